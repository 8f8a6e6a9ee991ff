"""The runtime's FFT/DCT and erf equal scipy's bit for bit, and the codec path imports no scipy
Python package (only scipy's compiled pocketfft, loaded by file)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.fft
import scipy.special

from aecodec.dsp import fft
from aecodec.model.np_erf import erf


@pytest.mark.parametrize("threads", [1, 2])
def test_real_ffts_equal_scipy(threads: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 37, 1024)).astype(np.float32)
    spec = fft.rfft(x, threads=threads)
    assert spec.dtype == np.complex64
    assert np.array_equal(spec, scipy.fft.rfft(x, axis=-1))
    assert np.array_equal(fft.rfft(x[:, ::2]), scipy.fft.rfft(x[:, ::2], axis=-1))  # strided
    back = fft.irfft(spec, n=1024, threads=threads)
    assert back.dtype == np.float32
    assert np.array_equal(back, scipy.fft.irfft(spec, n=1024, axis=-1))


def test_irfft_names_a_wrong_bin_count() -> None:
    with pytest.raises(ValueError, match="513 bins for n=1024, got 512"):
        fft.irfft(np.zeros((2, 512), np.complex64), n=1024)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_dcts_equal_scipy(dtype: type) -> None:
    b = np.random.default_rng(1).standard_normal((4, 5, 16, 16)).astype(dtype)
    assert np.array_equal(fft.dctn_ortho(b, axes=(2, 3)),
                          scipy.fft.dctn(b, type=2, axes=(2, 3), norm="ortho"))
    assert np.array_equal(fft.idctn_ortho(b, axes=(2, 3)),
                          scipy.fft.idctn(b, type=2, axes=(2, 3), norm="ortho"))
    assert np.allclose(fft.idctn_ortho(fft.dctn_ortho(b, axes=(2, 3)), axes=(2, 3)), b,
                       atol=1e-5)


def test_erf_matches_math_and_scipy() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(200_000) * 1.5, np.linspace(-6, 6, 4001),
                        [0.0, -0.0, 2.0, -2.0, 4.0, -4.0, 1e-30, 50.0, -50.0]]).astype(np.float32)
    got = erf(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    exact = np.array([math.erf(float(v)) for v in x])
    assert np.abs(got - exact).max() <= 3e-8  # within half a float32 step of the true value
    assert np.mean(got != scipy.special.erf(x)) < 1e-4
    assert got[-1] == -1.0 and got[-2] == 1.0 and got[-9] == 0.0


def test_codec_path_imports_no_scipy_package() -> None:
    code = ("import sys, numpy as np; import aecodec.codec.decode, aecodec.codec.encode; "
            "from aecodec.dsp import fft; from aecodec.model.np_erf import erf; "
            "fft.rfft(np.zeros((2, 8), np.float32)); erf(np.zeros(3)); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['scipy.fft._pocketfft.pypocketfft']"
