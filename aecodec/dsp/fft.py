"""Real FFTs and orthonormal DCTs for the runtime: scipy's pocketfft, without ``import scipy.fft``.

``scipy.fft`` is pocketfft (a compiled extension) behind a Python layer whose import pulls
``scipy.special`` and scipy's array-API shims: about 0.35 s of an idle 2-core machine, a quarter
of a 10-s clip's whole encode. This module loads the same extension (``pypocketfft``, the one
``scipy.fft`` calls) from scipy's install by file, under its own module name, so later imports
of ``scipy.fft`` (``bench``) find it already loaded; where that file is not where this scipy
keeps it, it falls back to ``import scipy.fft``. Every function gives the bits ``scipy.fft``
gives for the same call (``tests/test_fft.py``).

Transforms run over the last axis (the DCTs over the given axes) of float32/complex64 arrays.
``threads`` splits a batch of independent transforms over threads; each transform is computed
the same way whatever the count, so results do not depend on it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from functools import lru_cache
from types import ModuleType

import numpy as np

_NAME = "scipy.fft._pocketfft.pypocketfft"


def _load_by_file() -> ModuleType | None:
    """The pocketfft extension of the installed scipy, loaded by path; None if not found."""
    spec = importlib.util.find_spec("scipy")  # a top-level find_spec imports nothing
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        folder = os.path.join(root, "fft", "_pocketfft")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "pypocketfft" + suffix)
            if not os.path.isfile(path):
                continue
            ext = importlib.util.spec_from_file_location(_NAME, path)
            if ext is None or ext.loader is None:
                return None
            module = importlib.util.module_from_spec(ext)
            ext.loader.exec_module(module)
            return module
    return None


@lru_cache(maxsize=1)
def backend() -> ModuleType:
    """pocketfft's module (``r2c``, ``c2r``, ``dct``), loaded once."""
    module = sys.modules.get(_NAME)
    if module is None:
        try:
            module = _load_by_file()
        except (ImportError, OSError):
            module = None
    if module is None:  # the slow path: imports scipy.fft, the same extension
        module = importlib.import_module(_NAME)
    sys.modules[_NAME] = module
    return module


def rfft(x: np.ndarray, *, threads: int = 1, out: np.ndarray | None = None) -> np.ndarray:
    """``scipy.fft.rfft(x, axis=-1, workers=threads)``: ``[..., n]`` real -> ``[..., n//2+1]``
    complex (complex64 for float32 input), into ``out`` when given (the right shape and
    dtype; it must not overlap ``x``)."""
    x = np.asarray(x)
    return backend().r2c(x, (x.ndim - 1,), True, 0, out, threads)


def irfft(spec: np.ndarray, *, n: int, threads: int = 1,
          out: np.ndarray | None = None) -> np.ndarray:
    """``scipy.fft.irfft(spec, n=n, axis=-1, workers=threads)``: ``[..., n//2+1]`` complex ->
    ``[..., n]`` real, normalised by ``1/n`` (float32 for complex64 input), into ``out`` when
    given."""
    spec = np.asarray(spec)
    bins = n // 2 + 1
    if spec.shape[-1] != bins:
        raise ValueError(f"irfft() needs {bins} bins for n={n}, got {spec.shape[-1]}")
    return backend().c2r(spec, (spec.ndim - 1,), n, False, 2, out, threads)


def dctn_ortho(x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
    """``scipy.fft.dctn(x, type=2, axes=axes, norm="ortho")``."""
    return backend().dct(np.asarray(x), 2, axes, 1, None, 1, None)


def idctn_ortho(x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
    """``scipy.fft.idctn(x, type=2, axes=axes, norm="ortho")`` (a type-3 DCT, orthonormal)."""
    return backend().dct(np.asarray(x), 3, axes, 1, None, 1, None)
