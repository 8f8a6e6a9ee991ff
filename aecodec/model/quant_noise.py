"""Differentiable training stand-ins of the quantizer (:mod:`aecodec.coding.quantize`).

In training, rounding is replaced by additive uniform noise of one step width (Balle et al.,
2017), and the rate is estimated under a per-channel zero-mean Laplace model.
"""

from __future__ import annotations

import torch


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
