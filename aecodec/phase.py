"""Phase reconstruction: Fast Griffin-Lim (Perraudin, Balazs & Sondergaard, 2013).

Griffin & Lim (1984) alternate projections between the set of spectrograms with the target
magnitude and the set of consistent STFTs; the fast variant adds a momentum term ``alpha``
(0.99 by default) that converges in far fewer iterations.
"""

from __future__ import annotations

import torch

from .stft import istft, stft

DEFAULT_ITERS = 32
DEFAULT_MOMENTUM = 0.99


def griffin_lim(magnitude: torch.Tensor, *, n_fft: int, hop: int, length: int,
                iters: int = DEFAULT_ITERS, momentum: float = DEFAULT_MOMENTUM,
                init_phase: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Reconstruct audio from a magnitude spectrogram.

    Parameters
    ----------
    magnitude : Tensor ``[batch, n_fft//2+1, frames]``
        Non-negative linear magnitudes.
    n_fft, hop : int
        STFT settings the magnitudes were computed with.
    length : int
        Output length in samples.
    iters : int, default 32
        Number of projection iterations (0 returns the initial estimate).
    momentum : float, default 0.99
        Fast Griffin-Lim momentum ``alpha`` in [0, 1); 0 is plain Griffin-Lim.
    init_phase : Tensor ``[batch, freq, frames]``, optional
        Initial phase in radians; default is uniform random phase drawn from ``seed``.
    seed : int, default 0
        Seed of the random initial phase, so that decoding is deterministic.

    Returns
    -------
    Tensor ``[batch, length]`` float32.
    """
    if iters < 0:
        raise ValueError(f"griffin_lim() called with iters={iters} < 0")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"griffin_lim() called with momentum={momentum} outside [0, 1)")
    if magnitude.dim() != 3:
        raise ValueError(f"griffin_lim() expects [batch, freq, frames], got {tuple(magnitude.shape)}")
    if init_phase is None:
        gen = torch.Generator().manual_seed(seed)
        init_phase = torch.rand(magnitude.shape, generator=gen) * (2 * torch.pi)
        init_phase = init_phase.to(magnitude.device)
    angles = torch.polar(torch.ones_like(magnitude), init_phase)
    prev = torch.zeros_like(angles)
    for _ in range(iters):
        audio = istft(magnitude * angles, n_fft=n_fft, hop=hop, length=length)
        rebuilt = stft(audio, n_fft=n_fft, hop=hop)
        accel = rebuilt - (momentum / (1.0 + momentum)) * prev if momentum else rebuilt
        angles = accel / (accel.abs() + 1e-16)
        prev = rebuilt
    return istft(magnitude * angles, n_fft=n_fft, hop=hop, length=length)
