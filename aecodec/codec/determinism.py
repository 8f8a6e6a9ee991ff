"""Thread-count-independent decoding: numpy's OpenBLAS on one thread inside the block.

OpenBLAS picks different kernels and splits for one thread and for several, so a GEMM's sums
came out in a different order: decoding the same file with ``OPENBLAS_NUM_THREADS=1`` and 2
gave WAVs that differed from byte 62 on (measured on a 12-kbps stereo file). Decoding runs its
BLAS calls on one thread, whatever the environment says, and restores the count after; the
format spec calls decoding deterministic (tests/test_robust.py compares the bytes of 1 and 2
threads). Without a bundled OpenBLAS (numpy built on another BLAS) this is a no-op and the test
says whether that BLAS needs the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

_NAMES = ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_",
          "openblas_{}_num_threads")


@lru_cache(maxsize=1)
def _openblas() -> tuple[Any, Any] | None:
    """numpy's bundled OpenBLAS ``(get, set)`` thread functions, or None."""
    import numpy as np
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _NAMES:
            get = getattr(lib, name.format("get"), None)
            put = getattr(lib, name.format("set"), None)
            if get is not None and put is not None:
                put.argtypes = [ctypes.c_int]
                return get, put
    return None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's OpenBLAS on one thread inside the block (restored after)."""
    fns = _openblas()
    if fns is None:
        yield
        return
    get, put = fns
    old = int(get())
    put(1)
    try:
        yield
    finally:
        put(old)
