"""The full-band measures (aecodec.bench.fullband_metrics): identity, low-pass, noise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from aecodec.bench.fullband_metrics import (
    FB_RATE,
    band_energy,
    fullband_metrics,
    hf_db,
    htk_mel_filterbank,
    mel_fb,
    mr_fb,
)


def _music(seconds: float = 3.0, rate: int = FB_RATE, seed: int = 0) -> np.ndarray:
    """Tones with harmonics up to 19 kHz, bursts of hiss (cymbal-like) and a decaying pulse."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(0.3 / h * np.sin(2 * np.pi * 440 * h * t) for h in range(1, 44))
    hiss = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0)
    sos = butter(4, 8000, "highpass", fs=rate, output="sos")
    return (0.3 * x + 0.05 * sosfiltfilt(sos, hiss)).astype(np.float64)


def test_identity_is_zero() -> None:
    x = _music()
    m = fullband_metrics(x, x.copy(), rate=FB_RATE)
    assert m == {"mel_fb": 0.0, "mr_fb": 0.0, "hf_db": 0.0}


def test_lowpass_11k_gives_large_hf_db() -> None:
    x = _music()
    sos = butter(12, 11000, "lowpass", fs=FB_RATE, output="sos")
    low = sosfiltfilt(sos, x)
    assert hf_db(x, low, rate=FB_RATE) > 15.0  # Opus@12: 5.5 dB, Opus@24: 1.0 dB (issue 14)
    assert mel_fb(x, low, rate=FB_RATE) > 0.1
    # a 16 kHz low-pass loses less of the band than an 11 kHz one
    mid = sosfiltfilt(butter(12, 16000, "lowpass", fs=FB_RATE, output="sos"), x)
    assert hf_db(x, mid, rate=FB_RATE) < hf_db(x, low, rate=FB_RATE)


@pytest.mark.parametrize("measure", [mel_fb, mr_fb, hf_db])
def test_added_noise_is_monotone(measure) -> None:  # type: ignore[no-untyped-def]
    x = _music()
    noise = np.random.default_rng(1).standard_normal(len(x))
    vals = [measure(x, x + a * noise, rate=FB_RATE) for a in (1e-3, 1e-2, 1e-1)]
    assert 0 < vals[0] < vals[1] < vals[2]


def test_48k_input_is_compared_at_44k() -> None:
    x48 = _music(rate=48_000)
    assert hf_db(x48, x48, rate=48_000) == 0.0
    low = sosfiltfilt(butter(12, 11000, "lowpass", fs=48_000, output="sos"), x48)
    assert hf_db(x48, low, rate=48_000) > 15.0


def test_refuses_a_22k_rate_and_stereo() -> None:
    x = _music(rate=22_050)
    with pytest.raises(ValueError, match="rate >= 44100"):
        mel_fb(x, x, rate=22_050)
    with pytest.raises(ValueError, match="mono"):
        mr_fb(np.zeros((100, 2)), np.zeros((100, 2)), rate=FB_RATE)


def test_mel_filterbank_covers_0_to_20k() -> None:
    fb = htk_mel_filterbank()
    freqs = np.linspace(0, FB_RATE / 2, fb.shape[1])
    assert fb.shape == (128, 1025)
    assert fb[:, freqs > 20_000].sum() == 0
    assert np.all(fb.sum(axis=1) > 0)  # every filter covers at least one bin


def test_band_energy_sees_only_the_band() -> None:
    t = np.arange(FB_RATE) / FB_RATE
    inside = band_energy(np.sin(2 * np.pi * 15000 * t))
    outside = band_energy(np.sin(2 * np.pi * 5000 * t))
    assert inside.min() > 1e4  # about (2048 / 4) ** 2 / 2 per frame
    assert np.median(outside) < 1e-6 * np.median(inside)  # Hann leakage only


def test_visqol_fb_sees_the_high_band() -> None:
    pytest.importorskip("visqol")
    from aecodec.bench.fullband_metrics import visqol_fb

    x = _music(seconds=2.0)
    low = sosfiltfilt(butter(12, 11000, "lowpass", fs=FB_RATE, output="sos"), x)
    same, dull = visqol_fb(x, x, rate=FB_RATE), visqol_fb(x, low, rate=FB_RATE)
    assert same > 4.5 and dull < same - 0.3


def test_bench_table_shows_full_band_columns_when_measured() -> None:
    from aecodec.bench.run import Row
    from aecodec.bench.table import to_markdown

    base = {"seed_rmse": 1.0, "mr_rmse": 0.3, "mel_l1": 0.1, "lsd_db": 9.0, "snr_db": 0.0}
    narrow = [Row(file="a.wav", codec="aecodec", target_kbps=6.0, kbps=6.0, metrics=base)]
    assert "mel_fb" not in to_markdown(narrow)
    wide = [Row(file="a.wav", codec="aecodec", target_kbps=6.0, kbps=6.0,
                metrics={**base, "mel_fb": 0.15, "mr_fb": 0.3, "hf_db": 2.0})]
    table = to_markdown(wide).splitlines()
    assert "| mel_fb | mr_fb | hf_db |" in table[0]
    assert "| 0.150 | 0.300 | 2.000 |" in table[2]
