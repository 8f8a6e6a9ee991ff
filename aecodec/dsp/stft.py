"""STFT front end in torch: log-magnitude spectrograms and the inverse transform, for training
and as the reference of the numpy runtime (:mod:`aecodec.dsp.np_spectral`, which the codec
uses and which holds the settings ``StftConfig`` and the constants).

Shapes: audio ``[batch, samples]``; spectrograms ``[batch, freq, frames]`` with
``freq = n_fft // 2 + 1`` and ``frames = samples // hop + 1`` (``center=True``, reflect padding).
"""

from __future__ import annotations

import torch

from aecodec.dsp.np_spectral import LOG_EPS, LOG_MAX, StftConfig

__all__ = ["LOG_EPS", "LOG_MAX", "StftConfig", "istft", "log_abs", "log_magnitude",
           "magnitude_from_log", "stft", "window"]


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
