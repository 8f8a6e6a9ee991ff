"""zstd frames: the latent and stereo symbol streams of the ``"zstd"`` coder, and the one way
every stream of a file is decompressed (to exactly the size the metadata implies).

A chunk of symbols ``[C, T]`` (int8) is laid out channel-major (each channel's time series is
contiguous, so the long runs of zeros in quiet channels become LZ matches) and compressed as one
zstd frame. A frame records its decompressed size, but a forged file can declare anything there:
:func:`decompress_exact` never allocates more than the size the caller expects.
"""

from __future__ import annotations

import io

import numpy as np
import zstandard

from aecodec.errors import FormatError

ZSTD_LEVEL = 19


def encode_symbols(symbols: np.ndarray, *, level: int = ZSTD_LEVEL) -> bytes:
    """int8 ``[C, T]`` -> zstd frame bytes."""
    if symbols.dtype != np.int8 or symbols.ndim != 2:
        raise ValueError(f"encode_symbols() expects int8 [C, T], got {symbols.dtype} {symbols.shape}")
    cctx = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return cctx.compress(np.ascontiguousarray(symbols).tobytes())


def decompress_exact(data: bytes, size: int, *, name: str, what: str = "payload",
                     unit: str = "symbols") -> bytes:
    """One zstd frame -> exactly ``size`` bytes, or :class:`FormatError` naming ``what``.

    Memory is bounded by ``size`` whatever the frame header declares: a declared content size
    other than ``size`` is refused before anything is allocated, and the frame is read through
    a stream capped at ``size + 1`` bytes.
    """
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise FormatError(f"{name}: {what} does not decompress ({exc})") from None
    if declared >= 0 and declared != size:
        raise FormatError(f"{name}: {what} holds {declared} {unit}, expected {size}")
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            raw = reader.read(size + 1)
    except zstandard.ZstdError as exc:
        raise FormatError(f"{name}: {what} does not decompress ({exc})") from None
    if len(raw) != size:
        raise FormatError(f"{name}: {what} holds {len(raw)} {unit}, expected {size}")
    return raw


def decode_symbols(payload: bytes, *, channels: int, frames: int, name: str = "<chunk>") -> np.ndarray:
    """zstd frame -> int8 ``[channels, frames]``; :class:`FormatError` if it does not fit."""
    raw = decompress_exact(payload, channels * frames, name=name)
    return np.frombuffer(raw, dtype=np.int8).reshape(channels, frames)
