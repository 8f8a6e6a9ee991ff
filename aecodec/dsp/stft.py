"""STFT front end: log-magnitude spectrograms and the inverse transform (torch).

Shapes: audio ``[batch, samples]``; spectrograms ``[batch, freq, frames]`` with
``freq = n_fft // 2 + 1`` and ``frames = samples // hop + 1`` (``center=True``, reflect padding).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

LOG_EPS = 1e-5
"""Floor added to magnitudes before the logarithm: ``log(|X| + LOG_EPS)``."""
LOG_MAX = 12.0
"""Largest ln-magnitude a decoder turns into a magnitude (e^12 = 1.6e5; a full-scale sine
reaches 512 at n_fft 1024)."""


@dataclass(frozen=True)
class StftConfig:
    """STFT settings of a model. Defaults: 22050 Hz, n_fft 1024, hop 256, Hann window."""

    rate: int = 22050
    n_fft: int = 1024
    hop: int = 256

    def __post_init__(self) -> None:
        if self.n_fft <= 0 or self.n_fft & (self.n_fft - 1):
            raise ValueError(f"StftConfig n_fft={self.n_fft} is not a positive power of two")
        if not 0 < self.hop <= self.n_fft // 2:
            raise ValueError(f"StftConfig hop={self.hop} not in 1..n_fft/2={self.n_fft // 2}")
        if self.rate <= 0:
            raise ValueError(f"StftConfig rate={self.rate} <= 0")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        """Number of STFT frames for ``samples`` samples."""
        return samples // self.hop + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window(n_fft: int, *, device: torch.device | None = None) -> torch.Tensor:
    """Periodic Hann window ``[n_fft]`` (float32)."""
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=device)


def stft(audio: torch.Tensor, *, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT: ``[batch, samples]`` -> ``[batch, n_fft//2+1, samples//hop+1]``.

    Reflect padding, or zero padding for a signal of at most ``n_fft // 2`` samples (too
    short to reflect: a file of a few milliseconds)."""
    mode = "reflect" if audio.shape[-1] > n_fft // 2 else "constant"
    return torch.stft(audio, n_fft, hop_length=hop, window=window(n_fft, device=audio.device),
                      center=True, pad_mode=mode, return_complex=True)


def istft(spec: torch.Tensor, *, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`: ``[batch, freq, frames]`` complex -> ``[batch, length]``."""
    return torch.istft(spec, n_fft, hop_length=hop, window=window(n_fft, device=spec.device),
                       center=True, length=length)


def log_magnitude(audio: torch.Tensor, *, n_fft: int, hop: int) -> torch.Tensor:
    """``ln(|STFT| + LOG_EPS)``: ``[batch, samples]`` -> ``[batch, freq, frames]``."""
    return log_abs(stft(audio, n_fft=n_fft, hop=hop))


def log_abs(spec: torch.Tensor) -> torch.Tensor:
    """The log map of a complex STFT (any shape): ``ln(|spec| + LOG_EPS)``."""
    return torch.log(spec.abs() + LOG_EPS)


def magnitude_from_log(logmag: torch.Tensor) -> torch.Tensor:
    """Inverse of the log map, clamped to ``[0, exp(LOG_MAX)]``: ``exp(L) - LOG_EPS`` (a
    damaged or forged stream can decode to any log-magnitude; the clamp keeps audio finite)."""
    return (torch.exp(logmag.clamp(max=LOG_MAX)) - LOG_EPS).clamp_min(0.0)
