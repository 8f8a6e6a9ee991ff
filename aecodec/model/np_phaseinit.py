"""Learned initial phase for Griffin-Lim in numpy: PhaseNet inference and phase integration.

The numpy twin of :mod:`aecodec.model.phaseinit` (see its docstring for the method): the net
predicts the time and frequency phase derivatives from decoded ln-magnitudes, and
:func:`integrate_phase` turns them into a phase (float64 sums, as the torch version).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from aecodec.model.np_layers import Conv2d, gelu

TWO_PI = 2 * math.pi
_F32 = np.float32


def _bin_advance(bins: int, *, n_fft: int, hop: int) -> np.ndarray:
    """``2 pi hop k / n_fft`` modulo ``2 pi``, float64 ``[1, bins, 1]``."""
    k = np.arange(bins, dtype=np.float64)
    return np.remainder(TWO_PI * hop * k / n_fft, TWO_PI).reshape(1, -1, 1)


def basin_peaks(logmag: np.ndarray) -> np.ndarray:
    """For every bin, the local maximum (over frequency) reached walking uphill from it:
    ``[batch, bins, frames]`` -> same shape, int64 (pointer jumping, no loop over bins)."""
    bins = logmag.shape[1]
    floor = np.full_like(logmag[:, :1], -np.inf)
    left = np.concatenate([floor, logmag[:, :-1]], axis=1)
    right = np.concatenate([logmag[:, 1:], floor], axis=1)
    idx = np.broadcast_to(np.arange(bins).reshape(1, -1, 1), logmag.shape)
    step = np.where((right > logmag) & (right >= left), idx + 1,
                    np.where(left > logmag, idx - 1, idx))
    for _ in range(max(1, math.ceil(math.log2(bins))) + 1):
        step = np.take_along_axis(step, step, axis=1)
    return step


def integrate_phase(logmag: np.ndarray, dev_t: np.ndarray, dev_f: np.ndarray, *,
                    n_fft: int, hop: int, start: np.ndarray | None = None,
                    anchor: int = 0) -> np.ndarray:
    """Phase ``[batch, bins, frames]`` float32 from the derivatives (all ``[batch, bins,
    frames]``); ``start [batch, bins]``: phase of each bin's time integration at frame
    ``anchor`` (default 0). See :func:`aecodec.model.phaseinit.integrate_phase`."""
    if not logmag.shape == dev_t.shape == dev_f.shape or logmag.ndim != 3:
        raise ValueError(f"integrate_phase() needs three equal [batch, bins, frames] arrays, "
                         f"got {logmag.shape}, {dev_t.shape}, {dev_f.shape}")
    if not 0 <= anchor < logmag.shape[2]:
        raise ValueError(f"integrate_phase() called with anchor={anchor} outside "
                         f"0..{logmag.shape[2] - 1}")
    adv = _bin_advance(logmag.shape[1], n_fft=n_fft, hop=hop) + dev_t.astype(np.float64)
    adv[..., 0] = 0.0
    along_t = np.cumsum(adv, axis=-1)
    along_t = along_t - along_t[..., anchor:anchor + 1]
    if start is not None:
        along_t = along_t + start.astype(np.float64)[..., None]
    steps = dev_f[:, :-1].astype(np.float64) - math.pi
    along_f = np.concatenate([np.zeros_like(steps[:, :1]), np.cumsum(steps, axis=1)], axis=1)
    peaks = basin_peaks(logmag)
    phase = (np.take_along_axis(along_t, peaks, axis=1) + along_f
             - np.take_along_axis(along_f, peaks, axis=1))
    return np.remainder(phase, TWO_PI).astype(logmag.dtype)


class NpPhaseNet(NamedTuple):
    """ln-magnitudes ``[batch, bins, frames]`` -> derivative vectors ``[batch, 4, bins,
    frames]`` (the torch ``PhaseNet``: 2-D convolutions over (frequency, time))."""

    inp: Conv2d
    mid: tuple[Conv2d, ...]
    out: Conv2d
    center: float
    scale: float

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray], *, prefix: str = "",
                   center: float, scale: float) -> NpPhaseNet:
        def conv(name: str, dilation: tuple[int, int] = (1, 1)) -> Conv2d:
            return Conv2d.from_torch(np.asarray(state[f"{prefix}{name}.weight"], _F32),
                                     np.asarray(state[f"{prefix}{name}.bias"], _F32),
                                     dilation=dilation)
        mid = tuple(conv(f"mid.{i}", (d, 1)) for i, d in enumerate((2, 4, 8)))
        return cls(conv("inp"), mid, conv("out"), center, scale)

    def __call__(self, logmag: np.ndarray) -> np.ndarray:
        b, bins, frames = logmag.shape
        x = (np.asarray(logmag, _F32) - _F32(self.center)) / _F32(self.scale)
        pos = np.broadcast_to(np.linspace(-1, 1, bins, dtype=_F32).reshape(1, bins, 1),
                              (b, bins, frames))
        h = gelu(self.inp(np.stack([x, pos], axis=-1)))  # [B, F, T, C]
        for conv in self.mid:
            h = h + gelu(conv(h))
        return np.ascontiguousarray(self.out(h).transpose(0, 3, 1, 2))


def initial_phase(net: Callable[[np.ndarray], np.ndarray], logmag: np.ndarray, *, n_fft: int, hop: int,
                  start: np.ndarray | None = None, anchor: int = 0) -> np.ndarray:
    """Predict the derivatives of ``logmag [batch, bins, frames]`` with ``net`` (an
    :class:`NpPhaseNet`, or the torch reference behind the same call) and integrate them."""
    raw = net(logmag)
    dev_t = np.arctan2(raw[:, 1], raw[:, 0])
    dev_f = np.arctan2(raw[:, 3], raw[:, 2])
    return integrate_phase(logmag, dev_t, dev_f, n_fft=n_fft, hop=hop, start=start,
                           anchor=anchor)
