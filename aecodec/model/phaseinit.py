"""Learned initial phase for Griffin-Lim: predicted phase derivatives, integrated.

Griffin-Lim on LOSSY magnitudes drifts away from good phase: on held-out music at 6 kbps,
decoded magnitudes with the true phase score 0.116 multi-res, and 8 / 32 Griffin-Lim
iterations started FROM that true phase take it to 0.200 / 0.223 (random start, 32
iterations: 0.237). A good initial phase and few iterations beat many iterations.

This module predicts, from decoded ln-magnitudes ``[batch, bins, frames]``, the two phase
derivatives of the STFT (:func:`phase_derivatives` gives the true ones):

- time direction ``dev_t``: the frame-to-frame phase advance minus the bin centre's
  ``2 pi hop k / n_fft`` (the instantaneous-frequency deviation), wrapped to ``[-pi, pi)``;
- frequency direction ``dev_f``: the phase step from bin ``k`` to ``k + 1`` plus ``pi`` (a
  pulse at the centre of a centred window steps by ``-pi``), wrapped.

:func:`integrate_phase` turns them into a phase (no iteration, fully vectorised): every local
maximum over frequency follows its own time integration; every other bin is locked to the peak
of its basin through the frequency derivative - identity phase locking (Laroche & Dolson, 1999)
with learned offsets, a vectorised cousin of phase-gradient heap integration (Prusa, Balazs &
Sondergaard, 2017). With the TRUE derivatives and decoded 6-kbps magnitudes it scores 0.178
multi-res before any Griffin-Lim iteration (measured on 5 held-out clips).

References
----------
Laroche, J. & Dolson, M. (1999). Improved phase vocoder time-scale modification of audio.
IEEE Trans. Speech and Audio Processing 7(3), 323-332.
Prusa, Z., Balazs, P. & Sondergaard, P. L. (2017). A noniterative method for reconstruction of
phase from STFT magnitude. IEEE/ACM Trans. Audio, Speech, and Language Processing 25(5).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

TWO_PI = 2 * math.pi


def _wrap(x: torch.Tensor) -> torch.Tensor:
    """Angles wrapped to ``[-pi, pi)``."""
    return torch.remainder(x + math.pi, TWO_PI) - math.pi


def _bin_advance(bins: int, *, n_fft: int, hop: int, dtype: torch.dtype) -> torch.Tensor:
    """``2 pi hop k / n_fft`` modulo ``2 pi``, ``[1, bins, 1]``."""
    k = torch.arange(bins, dtype=torch.float64)
    return torch.remainder(TWO_PI * hop * k / n_fft, TWO_PI).to(dtype).view(1, -1, 1)


def phase_derivatives(spec: torch.Tensor, *, n_fft: int, hop: int
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """True ``(dev_t, dev_f)`` ``[batch, bins, frames]`` of a complex STFT (see module doc).

    ``dev_t[..., 0]`` and ``dev_f[:, -1]`` (no previous frame / next bin) are 0.
    """
    phase = spec.angle()
    adv = _bin_advance(phase.shape[1], n_fft=n_fft, hop=hop, dtype=phase.dtype)
    dev_t = torch.zeros_like(phase)
    dev_f = torch.zeros_like(phase)
    dev_t[..., 1:] = _wrap(phase[..., 1:] - phase[..., :-1] - adv)
    dev_f[:, :-1] = _wrap(phase[:, 1:] - phase[:, :-1] + math.pi)
    return dev_t, dev_f


def basin_peaks(logmag: torch.Tensor) -> torch.Tensor:
    """For every bin, the index of the local maximum (over frequency) reached by walking
    uphill from it: ``[batch, bins, frames]`` float -> same shape, int64."""
    bins = logmag.shape[1]
    floor = torch.full_like(logmag[:, :1], -math.inf)
    left = torch.cat([floor, logmag[:, :-1]], dim=1)
    right = torch.cat([logmag[:, 1:], floor], dim=1)
    idx = torch.arange(bins).view(1, -1, 1).expand_as(logmag)
    step = torch.where((right > logmag) & (right >= left), idx + 1,
                       torch.where(left > logmag, idx - 1, idx))
    for _ in range(max(1, math.ceil(math.log2(bins))) + 1):  # pointer jumping: 2^k bins a round
        step = torch.gather(step, 1, step)
    return step


def integrate_phase(logmag: torch.Tensor, dev_t: torch.Tensor, dev_f: torch.Tensor, *,
                    n_fft: int, hop: int, start: torch.Tensor | None = None,
                    anchor: int = 0) -> torch.Tensor:
    """Phase ``[batch, bins, frames]`` from the derivatives (see module doc).

    Parameters
    ----------
    logmag : Tensor ``[batch, bins, frames]``
        ln-magnitudes; they decide which bins are peaks and which peak each bin follows.
    dev_t, dev_f : Tensor ``[batch, bins, frames]``
        Time and frequency phase derivatives (radians, as :func:`phase_derivatives`).
    n_fft, hop : int
        STFT settings.
    start : Tensor ``[batch, bins]``, optional
        Phase of each bin's time integration at frame ``anchor`` (default 0 for every bin):
        the chunked decoder passes the phase of the last frame it already emitted.
    anchor : int, default 0
        Frame at which ``start`` holds.
    """
    if not logmag.shape == dev_t.shape == dev_f.shape or logmag.dim() != 3:
        raise ValueError(f"integrate_phase() needs three equal [batch, bins, frames] tensors, "
                         f"got {tuple(logmag.shape)}, {tuple(dev_t.shape)}, {tuple(dev_f.shape)}")
    if not 0 <= anchor < logmag.shape[2]:
        raise ValueError(f"integrate_phase() called with anchor={anchor} outside "
                         f"0..{logmag.shape[2] - 1}")
    adv = _bin_advance(logmag.shape[1], n_fft=n_fft, hop=hop, dtype=torch.float64) + dev_t.double()
    adv[..., 0] = 0.0
    along_t = torch.cumsum(adv, dim=-1)
    along_t = along_t - along_t[..., anchor:anchor + 1]
    if start is not None:
        along_t = along_t + start.double()[..., None]
    steps = dev_f[:, :-1].double() - math.pi
    along_f = torch.cat([torch.zeros_like(steps[:, :1]), torch.cumsum(steps, dim=1)], dim=1)
    peaks = basin_peaks(logmag)
    phase = torch.gather(along_t, 1, peaks) + along_f - torch.gather(along_f, 1, peaks)
    return torch.remainder(phase, TWO_PI).to(logmag.dtype)


def angles_from_vectors(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PhaseNet output ``[batch, 4, bins, frames]`` (two 2-D vectors) -> ``(dev_t, dev_f)``."""
    return torch.atan2(raw[:, 1], raw[:, 0]), torch.atan2(raw[:, 3], raw[:, 2])


class PhaseNet(nn.Module):
    """Decoded ln-magnitudes ``[batch, bins, frames]`` -> phase-derivative vectors
    ``[batch, 4, bins, frames]`` (cos/sin of ``dev_t``, cos/sin of ``dev_f``, unnormalised).

    A small 2-D convolution stack over (frequency, time): ``channels`` feature maps, kernel 3,
    residual layers dilated 2, 4, 8 along frequency (receptive field +-31 bins, +-5 frames),
    plus the bin's relative frequency as a second input plane. ``center``/``scale`` normalise
    the input as the autoencoder does.
    """

    def __init__(self, *, channels: int = 8, center: float = -4.0, scale: float = 3.0) -> None:
        super().__init__()
        if channels <= 0:
            raise ValueError(f"PhaseNet() called with channels={channels} <= 0")
        self.center, self.scale = center, scale
        self.inp = nn.Conv2d(2, channels, 3, padding=1)
        self.mid = nn.ModuleList([nn.Conv2d(channels, channels, 3, padding=(d, 1), dilation=(d, 1))
                                  for d in (2, 4, 8)])
        self.out = nn.Conv2d(channels, 4, 3, padding=1)

    def forward(self, logmag: torch.Tensor) -> torch.Tensor:
        b, bins, frames = logmag.shape
        x = ((logmag - self.center) / self.scale)[:, None]
        pos = torch.linspace(-1, 1, bins, dtype=x.dtype).view(1, 1, bins, 1).expand(b, 1, bins, frames)
        h = F.gelu(self.inp(torch.cat([x, pos], dim=1)))
        for conv in self.mid:
            h = h + F.gelu(conv(h))
        return self.out(h)


def initial_phase(net: PhaseNet, logmag: torch.Tensor, *, n_fft: int, hop: int,
                  start: torch.Tensor | None = None, anchor: int = 0) -> torch.Tensor:
    """Predict the derivatives of ``logmag [batch, bins, frames]`` and integrate them
    (:func:`integrate_phase`) -> phase ``[batch, bins, frames]``."""
    dev_t, dev_f = angles_from_vectors(net(logmag))
    return integrate_phase(logmag, dev_t, dev_f, n_fft=n_fft, hop=hop, start=start, anchor=anchor)
