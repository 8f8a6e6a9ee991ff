"""Uniform scalar quantization of the latent and its differentiable training stand-ins.

At encode time the latent ``y`` becomes integers ``q = round(y / step)``; the decoder sees
``q * step`` (done where chunks are parsed, :func:`aecodec.codec.chunk_symbols`). In
training, rounding is replaced by additive uniform noise of one step width (Balle et al.,
2017), and the rate is estimated under a per-channel zero-mean Laplace model.
"""

from __future__ import annotations

import math

import torch

SYMBOL_MIN = -127
SYMBOL_MAX = 127
"""Quantized symbols are clamped to this range and stored as int8."""


def quantize(latent: torch.Tensor, *, step: float) -> torch.Tensor:
    """``[B, C, T]`` float -> int8 symbols ``round(latent / step)`` clamped to +-127."""
    if not step > 0 or not math.isfinite(step):
        raise ValueError(f"quantize() called with step={step}; must be finite and > 0")
    q = torch.round(latent / step).clamp_(SYMBOL_MIN, SYMBOL_MAX)
    return q.to(torch.int8)


def add_noise(latent: torch.Tensor, step: torch.Tensor | float, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Training proxy of quantization: ``latent + U(-step/2, step/2)`` (step broadcastable)."""
    u = torch.rand(latent.shape, generator=generator, device=latent.device) - 0.5
    return latent + u * step


def laplace_bits(noisy: torch.Tensor, step: torch.Tensor | float,
                 log_scale: torch.Tensor) -> torch.Tensor:
    """Estimated bits of each value under a zero-mean Laplace with per-channel scale.

    ``bits = -log2(F(y + step/2) - F(y - step/2))``, ``F`` the Laplace CDF with scale
    ``exp(log_scale[c])``. Shapes: ``noisy [B, C, T]``, ``log_scale [C]`` -> ``[B, C, T]``.
    """
    b = torch.exp(log_scale)[None, :, None]

    def cdf(v: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.5 * torch.sign(v) * (1 - torch.exp(-v.abs() / b))

    p = cdf(noisy + step / 2) - cdf(noisy - step / 2)
    return -torch.log2(p.clamp_min(1e-9))
