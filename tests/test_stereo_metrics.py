"""The stereo-image measures: identity, a mono copy of a wide clip, swapped channels."""

from __future__ import annotations

import numpy as np
import pytest

from aecodec.bench.stereo_metrics import (
    band_index,
    coherence_error,
    level_error_db,
    stereo_errors,
    width_error_db,
)

RATE = 44_100


def wide_clip(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """``[samples, 2]``: a shared (centre) noise plus independent noise per channel, and a
    left-heavy tone mix, so the clip has level differences and a coherence well under 1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    centre = rng.standard_normal(n)
    t = np.arange(n) / RATE
    tone = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 3000 * t)
    left = 0.3 * centre + 0.3 * rng.standard_normal(n) + 0.5 * tone
    right = 0.3 * centre + 0.3 * rng.standard_normal(n) + 0.1 * tone
    return (0.2 * np.stack([left, right], axis=1)).astype(np.float32)


def test_identity_gives_zero() -> None:
    x = wide_clip()
    assert stereo_errors(x, x, rate=RATE) == {"level_db": 0.0, "coherence": 0.0,
                                              "width_db": 0.0}


def test_mono_copy_of_wide_clip_large_coherence_and_width_error() -> None:
    x = wide_clip()
    mono = np.repeat(x.mean(axis=1, keepdims=True), 2, axis=1)
    assert coherence_error(x, mono, rate=RATE) > 0.3
    assert width_error_db(x, mono, rate=RATE) > 30
    assert level_error_db(x, mono, rate=RATE) > 1.0  # the tone's 14 dB left lean is lost


def test_swapped_channels_large_level_error() -> None:
    x = wide_clip()
    swapped = x[:, ::-1]
    assert level_error_db(x, swapped, rate=RATE) > 3.0
    # swapping changes neither the coherence nor the width
    assert coherence_error(x, swapped, rate=RATE) < 1e-6
    assert width_error_db(x, swapped, rate=RATE) < 1e-6


def test_small_errors_for_a_slightly_changed_copy() -> None:
    x = wide_clip()
    y = x * np.array([1.05, 1.0], np.float32)  # 0.42 dB more on the left
    assert level_error_db(x, y, rate=RATE) == pytest.approx(20 * np.log10(1.05), abs=1e-3)
    assert coherence_error(x, y, rate=RATE) < 1e-6


def test_bands_cover_100_hz_to_16_khz() -> None:
    band = band_index(rate=RATE)
    freqs = np.arange(band.shape[0]) * RATE / 2048
    assert band.max() == 19 and band[freqs < 100].max() == -1 and band[freqs >= 16000].max() == -1
    assert set(band[band >= 0]) == set(range(20))


def test_rejects_mono_input() -> None:
    with pytest.raises(ValueError, match="expected \\[samples, 2\\]"):
        stereo_errors(np.zeros(1000), np.zeros(1000), rate=RATE)
