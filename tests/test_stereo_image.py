"""The stereo-image layer: exact mono fold-down, parameters kept, seekable, stream parsing."""

from __future__ import annotations

import numpy as np
import pytest

from aecodec.coding import stereo_image as si
from aecodec.errors import FormatError

RATE, BINS, FRAMES = 22_050, 513, 64


def _pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Complex STFT-like ``[bins, frames]`` pair: a shared part and an independent part per
    channel, the left 6 dB louder below 2 kHz (ILD 6 dB, coherence about 0.5 there)."""
    rng = np.random.default_rng(seed)

    def noise() -> np.ndarray:
        return rng.standard_normal((BINS, FRAMES)) + 1j * rng.standard_normal((BINS, FRAMES))

    shared, own_l, own_r = noise(), noise(), noise()
    gain = np.where(np.linspace(0, RATE / 2, BINS) < 2000, 2.0, 1.0)[:, None]
    return gain * (shared + own_l), shared + own_r


def test_fold_down_is_the_mid_exactly() -> None:
    rng = np.random.default_rng(1)
    mid = rng.standard_normal((BINS, FRAMES)) + 1j * rng.standard_normal((BINS, FRAMES))
    s_ild, s_icc = si.shapes(frames=FRAMES, slot=8)
    q_ild = rng.integers(-si.ILD_MAX, si.ILD_MAX + 1, s_ild).astype(np.int8)
    q_icc = rng.integers(0, len(si.ICC_LEVELS), s_icc).astype(np.int8)
    left, right = si.channel_spectra(mid, q_ild, q_icc, rate=RATE, slot=8, f0=512)
    np.testing.assert_allclose((left + right) / 2, mid, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(left)) and np.abs(left).max() < 5 * np.abs(mid).max()


def test_rebuilt_pair_keeps_level_difference_and_coherence() -> None:
    left, right = _pair()
    q_ild, q_icc = si.encode_chunk(left, right, rate=RATE, slot=8)
    dl, dr = si.channel_spectra((left + right) / 2, q_ild, q_icc, rate=RATE, slot=8, f0=0)
    ild_src, rho_src = si.analyze(left, right, rate=RATE, slot=FRAMES)
    ild_dec, rho_dec = si.analyze(dl, dr, rate=RATE, slot=FRAMES)
    assert np.abs(ild_src - ild_dec).mean() < 1.0
    assert np.abs(rho_src.real - rho_dec.real).mean() < 0.1
    # and much closer than a mono copy, which has coherence 1 everywhere
    assert np.abs(rho_src.real - 1).mean() > 0.3


def test_decoding_a_slice_equals_decoding_the_whole() -> None:
    left, right = _pair(2)
    mid = (left + right) / 2
    q_ild, q_icc = si.encode_chunk(left, right, rate=RATE, slot=8)
    whole = si.channel_spectra(mid, q_ild, q_icc, rate=RATE, slot=8, f0=1024)
    part = si.channel_spectra(mid[:, 10:50], q_ild, q_icc, rate=RATE, slot=8, f0=1024,
                              start=10)
    for w, p in zip(whole, part):
        np.testing.assert_array_equal(w[:, 10:50], p)


def test_flip_signs_are_deterministic_balanced_and_held() -> None:
    s = si.flip_signs(bins=BINS, f0=100, frames=400)
    np.testing.assert_array_equal(s, si.flip_signs(bins=BINS, f0=100, frames=400))
    np.testing.assert_array_equal(s[:, 50:], si.flip_signs(bins=BINS, f0=150, frames=350))
    assert abs(s.mean()) < 0.02
    assert 0.4 < (s[1:] == s[:-1]).mean() < 0.6  # neighbouring bins independent
    assert (s[:, 1:] == s[:, :-1]).mean() > 0.85  # held for SIGN_HOLD frames


def test_stream_round_trip_and_bad_streams() -> None:
    left, right = _pair(3)
    q_ild, q_icc = si.encode_chunk(left, right, rate=RATE, slot=8)
    data = si.pack_image(q_ild, q_icc)
    got = si.unpack_image(data, frames=FRAMES, slot=8, name="x")
    np.testing.assert_array_equal(got[0], q_ild)
    np.testing.assert_array_equal(got[1], q_icc)
    with pytest.raises(FormatError, match="x: payload holds"):
        si.unpack_image(data, frames=FRAMES + 64, slot=8, name="x")
    with pytest.raises(FormatError, match="x: payload (holds|does not decompress)"):
        si.unpack_image(data[:-3], frames=FRAMES, slot=8, name="x")
    bad = q_icc.copy()
    bad[0, 0] = len(si.ICC_LEVELS)
    with pytest.raises(FormatError, match="out of range"):
        si.unpack_image(si.pack_image(q_ild, bad), frames=FRAMES, slot=8, name="x")


def test_silent_input_gives_centre_and_full_coherence() -> None:
    zero = np.zeros((BINS, FRAMES), complex)
    q_ild, q_icc = si.encode_chunk(zero, zero, rate=RATE, slot=8)
    assert not q_ild.any() and (si.ICC_LEVELS[q_icc] == 1.0).all()
