"""The runtime's FFT/DCT equal scipy's bit for bit, GELU is exact to float32 rounding, and the codec path imports no scipy
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
from aecodec.model.np_erf import gelu, normal_cdf


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


def test_gelu_matches_the_exact_normal_cdf() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(200_000) * 2, np.linspace(-12, 12, 4001),
                        [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0, 1e30, -1e30]]).astype(np.float32)
    phi = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    got = gelu(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    want = x.astype(np.float64) * phi
    assert np.all(np.abs(got - want) <= 4e-7 + 6e-8 * np.abs(want))  # float32 rounding
    pos = x > 1e-20
    assert (np.abs(got - want)[pos] / want[pos]).max() <= 6e-7  # ~10 float32 steps, x > 0
    cdf = normal_cdf(x)
    assert np.all((cdf >= 0) & (cdf <= 1)) and np.all(np.isfinite(got))
    assert got[-2] == 1e30 and got[-1] == 0.0 and normal_cdf(np.float32(0.0)) == 0.5
    old = x * (0.5 + 0.5 * scipy.special.erf(x / np.sqrt(2)))  # the earlier scipy path
    assert np.all(np.abs(got - old) <= 5e-7 + 1.2e-7 * np.abs(want))


def test_codec_path_imports_no_scipy_package() -> None:
    code = ("import sys, numpy as np; import aecodec.codec.decode, aecodec.codec.encode; "
            "from aecodec.dsp import fft; from aecodec.model.np_erf import gelu; "
            "fft.rfft(np.zeros((2, 8), np.float32)); gelu(np.zeros(3)); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['scipy.fft._pocketfft.pypocketfft']"
