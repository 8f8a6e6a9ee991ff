"""The numpy polyphase resampler against scipy.signal.resample_poly (its reference)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from aecodec.dsp.polyphase import resample_poly

RATIOS = [(1, 2), (2, 1), (147, 320), (320, 147), (441, 160), (160, 441), (1, 3), (2205, 1600)]


@pytest.mark.parametrize(("up", "down"), RATIOS)
@pytest.mark.parametrize("n", [1, 2, 5, 37, 1000, 5001])
def test_equals_scipy(up: int, down: int, n: int) -> None:
    x = np.random.default_rng(n + up).standard_normal((n, 2)).astype(np.float32)
    want = scipy_resample_poly(x, up, down, axis=0)
    got = resample_poly(x, up, down)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=3e-6)
    np.testing.assert_allclose(resample_poly(x[:, 0], up, down), want[:, 0], atol=3e-6)


def test_two_to_one_is_exact() -> None:
    x = np.random.default_rng(0).standard_normal((20_001, 2)).astype(np.float32)
    np.testing.assert_array_equal(resample_poly(x, 1, 2), scipy_resample_poly(x, 1, 2, axis=0))


def test_decode_path_does_not_import_scipy_signal() -> None:
    code = ("import sys; import aecodec.dsp.resample; "
            "print('scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
