"""Uniform scalar quantization of the latent (numpy).

At encode time the latent ``y`` becomes integers ``q = round(y / step)`` (float32 division,
ties to even); the decoder sees ``q * step`` (done where chunks are parsed,
:func:`aecodec.codec.parse.chunk_symbols`). The training stand-ins (uniform noise, Laplace
rate) are in :mod:`aecodec.model.quant_noise`.
"""

from __future__ import annotations

import math

import numpy as np

SYMBOL_MIN = -127
SYMBOL_MAX = 127
"""Quantized symbols are clamped to this range and stored as int8."""


def quantize(latent: np.ndarray, *, step: float) -> np.ndarray:
    """float32 ``[..., C, T]`` -> int8 symbols ``round(latent / step)`` clamped to +-127."""
    if not step > 0 or not math.isfinite(step):
        raise ValueError(f"quantize() called with step={step}; must be finite and > 0")
    q = np.rint(np.asarray(latent, np.float32) / np.float32(step))
    return np.clip(q, SYMBOL_MIN, SYMBOL_MAX).astype(np.int8)
