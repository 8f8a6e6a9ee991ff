"""Entropy coding of quantized latent chunks with zstandard.

A chunk of symbols ``[C, T]`` (int8) is laid out channel-major (each channel's time series is
contiguous, so the long runs of zeros in quiet channels become LZ matches) and compressed as one
zstd frame. The frame records its decompressed size; decoding checks it against ``C * T``.
"""

from __future__ import annotations

import numpy as np
import zstandard

from .errors import FormatError

ZSTD_LEVEL = 19


def encode_symbols(symbols: np.ndarray, *, level: int = ZSTD_LEVEL) -> bytes:
    """int8 ``[C, T]`` -> zstd frame bytes."""
    if symbols.dtype != np.int8 or symbols.ndim != 2:
        raise ValueError(f"encode_symbols() expects int8 [C, T], got {symbols.dtype} {symbols.shape}")
    cctx = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return cctx.compress(np.ascontiguousarray(symbols).tobytes())


def decode_symbols(payload: bytes, *, channels: int, frames: int, name: str = "<chunk>") -> np.ndarray:
    """zstd frame -> int8 ``[channels, frames]``; :class:`FormatError` if it does not fit."""
    expected = channels * frames
    try:
        raw = zstandard.ZstdDecompressor().decompress(payload, max_output_size=expected)
    except zstandard.ZstdError as exc:
        raise FormatError(f"{name}: payload does not decompress ({exc})") from None
    if len(raw) != expected:
        raise FormatError(f"{name}: payload holds {len(raw)} symbols, expected {expected}")
    return np.frombuffer(raw, dtype=np.int8).reshape(channels, frames)
