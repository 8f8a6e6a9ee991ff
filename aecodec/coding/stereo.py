"""Parametric stereo: one coded mid signal plus per-band inter-channel level differences.

A magnitude-only codec cannot keep the phase relation of two independently coded channels, so
stereo is coded as the mid signal ``(L + R) / 2`` (through the autoencoder) plus the level
difference ``ILD = 10 log10(E_L / E_R)`` in ``BANDS`` frequency bands every ``ILD_FRAMES`` STFT frames,
quantized to ``ILD_STEP_DB`` steps. The decoder shares the mid signal's phase between both
channels and scales its magnitude per band: a stable, coherent stereo image for a fraction of a
kbps (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np

BANDS = 16
"""Number of ILD bands (edges log-spaced from 200 Hz; band 0 covers everything below)."""
ILD_STEP_DB = 2.0
ILD_FRAMES = 8
"""STFT frames per ILD value (93 ms at 22050/256): twice the latent frame, half its bits."""
ILD_MAX_SYMBOL = 12
"""Symbols are clamped to +-12, i.e. +-24 dB."""


def band_of_bin(*, bins: int, rate: int, bands: int = BANDS) -> np.ndarray:
    """Band index of every STFT bin: ``[bins]`` int64 in ``0..bands-1``."""
    freqs = np.linspace(0, rate / 2, bins)
    edges = np.geomspace(200.0, rate / 2, bands)[:-1]
    return np.searchsorted(edges, freqs, side="right").astype(np.int64)


def ild_symbols(mag_l: np.ndarray, mag_r: np.ndarray, *, rate: int, down: int,
                bands: int = BANDS) -> np.ndarray:
    """Quantized ILD ``[bands, ceil(frames / down)]`` int8 from magnitudes ``[bins, frames]``."""
    bins, frames = mag_l.shape
    band = band_of_bin(bins=bins, rate=rate, bands=bands)
    groups = -(-frames // down)
    pad = groups * down - frames
    e_l = np.pad(mag_l.astype(np.float64) ** 2, ((0, 0), (0, pad)))
    e_r = np.pad(mag_r.astype(np.float64) ** 2, ((0, 0), (0, pad)))
    sum_l = np.zeros((bands, groups))
    sum_r = np.zeros((bands, groups))
    np.add.at(sum_l, band, e_l.reshape(bins, groups, down).sum(axis=2))
    np.add.at(sum_r, band, e_r.reshape(bins, groups, down).sum(axis=2))
    ild = 10 * np.log10((sum_l + 1e-8) / (sum_r + 1e-8))
    q = np.clip(np.round(ild / ILD_STEP_DB), -ILD_MAX_SYMBOL, ILD_MAX_SYMBOL)
    return q.astype(np.int8)


def channel_gains(symbols: np.ndarray, *, bins: int, frames: int, rate: int,
                  down: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude gains ``(g_l, g_r)``, each ``[bins, frames]``, from ILD symbols.

    For coherent channels ``|M| = (|L| + |R|) / 2`` and ``|L| / |R| = 10^(ILD / 20)``, so
    ``g_l = 2 a / (1 + a)`` and ``g_r = 2 / (1 + a)`` with ``a = 10^(ILD / 20)``. The ILD is
    interpolated linearly between latent-frame centres so gains do not step.
    """
    bands = symbols.shape[0]
    band = band_of_bin(bins=bins, rate=rate, bands=bands)
    ild_db = symbols.astype(np.float64) * ILD_STEP_DB
    centres = np.arange(symbols.shape[1]) * down + (down - 1) / 2
    t = np.arange(frames)
    per_band = np.stack([np.interp(t, centres, row) for row in ild_db])  # [bands, frames]
    a = 10 ** (per_band[band] / 20)
    return (2 * a / (1 + a)).astype(np.float32), (2 / (1 + a)).astype(np.float32)
