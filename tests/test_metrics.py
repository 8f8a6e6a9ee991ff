"""Tests of aecodec.bench.metrics: identity, monotonicity under noise, alignment, pinned values."""

from __future__ import annotations

import numpy as np
import pytest

from aecodec.bench import metrics

RATE = 22050
SPECTRAL = ("seed_rmse", "mr_rmse", "mel_l1", "lsd_db")


def music_like(seconds: float = 2.0, *, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A chord of harmonic tones with a decaying envelope plus faint noise (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for f0 in (220.0, 277.2, 329.6):
        for k in range(1, 8):
            x += np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k
    x *= 0.1 * np.exp(-2.0 * (t % 0.5))
    x += 1e-3 * rng.standard_normal(t.shape)
    return x.astype(np.float32)


def with_noise(x: np.ndarray, snr: float, *, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    noise *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2)) * 10 ** (-snr / 20)
    return (x + noise).astype(np.float32)


def test_identity_is_zero() -> None:
    x = music_like()
    got = metrics.all_metrics(x, x, rate=RATE)
    assert set(got) == {*SPECTRAL, "snr_db"}
    for key in SPECTRAL:
        assert got[key] == 0.0
    assert got["snr_db"] == metrics.SNR_CAP_DB


def test_noise_makes_every_metric_worse() -> None:
    x = music_like()
    rows = [metrics.all_metrics(x, with_noise(x, snr), rate=RATE) for snr in (40, 30, 20, 10, 0)]
    for key in SPECTRAL:
        values = [r[key] for r in rows]
        assert (np.diff(values) > 0).all(), (key, values)
    snrs = [r["snr_db"] for r in rows]
    assert snrs == pytest.approx([40, 30, 20, 10, 0], abs=0.5)


def test_other_rates_are_resampled() -> None:
    x = music_like(rate=16000)
    assert metrics.all_metrics(x, x, rate=16000)["mr_rmse"] == 0.0
    assert metrics.mel_l1(x, with_noise(x, 10), rate=16000) > 0.0


@pytest.mark.parametrize("delay", [1234, -321])
def test_delayed_copy_is_aligned_back(delay: int) -> None:
    x = music_like()
    shifted = (np.concatenate([np.zeros(delay, np.float32), x]) if delay > 0 else x[-delay:])
    assert metrics.find_delay(x, shifted, rate=RATE) == delay
    aligned = metrics.align(x, shifted, rate=RATE)
    assert aligned.shape == x.shape and aligned.dtype == np.float32
    got = metrics.all_metrics(x, shifted, rate=RATE)
    if delay > 0:
        np.testing.assert_array_equal(aligned, x)
        assert got["snr_db"] == metrics.SNR_CAP_DB
        assert got["mr_rmse"] == 0.0 and got["mel_l1"] == 0.0
    else:  # deg starts early: its first samples are lost, only the head differs
        np.testing.assert_array_equal(aligned[-delay:], x[-delay:])
        assert got["mr_rmse"] < 0.1 and got["mel_l1"] < 0.1
    unaligned = metrics.all_metrics(x, shifted, rate=RATE, align_first=False)
    assert unaligned["mr_rmse"] > 2 * got["mr_rmse"]


def test_align_respects_max_shift() -> None:
    x = music_like()
    late = np.concatenate([np.zeros(RATE // 2, np.float32), x])
    assert abs(metrics.find_delay(x, late, rate=RATE, max_shift_s=0.1)) <= RATE // 10
    with pytest.raises(ValueError, match="max_shift_s=-1"):
        metrics.find_delay(x, late, rate=RATE, max_shift_s=-1)


def test_mr_rmse_of_silence_vs_cosine_is_pinned() -> None:
    # A cosine of period 32 samples sits on a bin centre of both FFT sizes and is symmetric
    # about the first and last sample (length - 1 is a multiple of 16), so reflect padding
    # continues it exactly: every frame holds A*N/4 at its bin and A*N/8 at both neighbours.
    amp, length = 0.5, 16 * 1000 + 1
    x = amp * np.cos(2 * np.pi * np.arange(length) / 32)
    expected = np.mean([np.sqrt((np.log1p(amp * n / 4) ** 2 + 2 * np.log1p(amp * n / 8) ** 2)
                                / (n // 2 + 1)) for n in metrics.MR_N_FFTS])
    assert metrics.mr_rmse(np.zeros(length), x, rate=RATE) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.3448546, abs=1e-7)


def test_seed_rmse_of_silence_vs_constant_offset() -> None:
    # A DC level c under a periodic Hann window (0.5 - 0.5 cos) of N = 512 has spectrum c*N/2
    # at bin 0, c*N/4 at bin 1 and zero elsewhere, in every (reflect-padded) frame.
    assert metrics.seed_rmse(np.zeros(8000), np.zeros(8000), rate=8000) == 0.0
    c = 0.25
    got = metrics.seed_rmse(np.zeros(8000), np.full(8000, c), rate=8000)
    diffs = np.log(np.array([c * 256, c * 128]) + 1e-5) - np.log(1e-5)
    expected = np.sqrt(np.sum(diffs**2) / 257)
    assert got == pytest.approx(expected, rel=1e-5)


def test_snr_db() -> None:
    x = music_like()
    assert metrics.snr_db(x, np.zeros_like(x)) == pytest.approx(0.0)
    assert metrics.snr_db(x, 0.9 * x) == pytest.approx(20.0)
    assert metrics.snr_db(np.zeros(10), np.ones(10)) == -metrics.SNR_CAP_DB


def test_mel_filterbank_is_non_negative_and_covers_the_band() -> None:
    fb = metrics.mel_filterbank(rate=RATE, n_fft=1024)
    assert fb.shape == (80, 513)
    assert (fb >= 0).all()
    assert (fb.max(axis=1) > 0).all()  # no empty filter
    assert (fb[:, 1:-1].sum(axis=0) > 0).all()  # every bin between DC and Nyquist is covered
    peaks = fb.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[0] <= 2 and peaks[-1] >= 480
    # Slaney normalisation: each triangle has unit area in Hz (up to sampling of the grid)
    areas = fb.sum(axis=1) * (RATE / 1024)
    assert areas[10:] == pytest.approx(1.0, rel=0.05)


def test_mel_scale_round_trip() -> None:
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 11025.0])
    np.testing.assert_allclose(metrics.mel_to_hz(metrics.hz_to_mel(hz)), hz, atol=1e-9)
    assert metrics.hz_to_mel(1000.0) == pytest.approx(15.0)


def test_stft_magnitude_shape_and_short_input() -> None:
    assert metrics.stft_magnitude(np.zeros(1000), n_fft=256, hop=64).shape == (129, 1000 // 64 + 1)
    assert metrics.stft_magnitude(np.ones(10), n_fft=256, hop=64).shape == (129, 1)


def test_align_survives_a_rebuilt_phase() -> None:
    # Griffin-Lim output shares the magnitudes but not the waveform: envelopes still align it.
    torch = pytest.importorskip("torch")
    from aecodec.dsp.griffinlim import griffin_lim
    from aecodec.dsp.stft import stft

    x = music_like()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster for one small transform on a busy machine
    try:
        mag = stft(torch.from_numpy(x)[None], n_fft=1024, hop=256).abs()
        rebuilt = griffin_lim(mag, n_fft=1024, hop=256, length=len(x), iters=8)[0].numpy()
    finally:
        torch.set_num_threads(threads)
    assert metrics.snr_db(x, rebuilt) < 3  # the waveforms do not match
    late = np.concatenate([np.zeros(700, np.float32), rebuilt])
    assert abs(metrics.find_delay(x, late, rate=RATE) - 700) <= metrics.ALIGN_HOP // 2
    assert abs(metrics.find_delay(x, rebuilt, rate=RATE)) <= metrics.ALIGN_HOP // 2
