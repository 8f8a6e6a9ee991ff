"""A classical, learning-free reference codec: block DCT of the log-magnitude spectrogram.

The log-spectrogram ``ln(|STFT| + 1e-5)`` ``[freq, frames]`` is edge-padded to multiples of
16, cut into 16x16 blocks and each block transformed by an orthonormal 2-D DCT-II, the
transform of JPEG (Wallace, 1991). Coefficient ``(u, v)`` of a block whose first bin is at
relative frequency ``f`` (0 at DC, 1 at Nyquist) is quantised uniformly with step::

    step = scale * (1 + FREQ_SLOPE * f) * (1 + ORDER_SLOPE * (u + v))

so that high frequencies and fine detail cost fewer bits. The integers are laid out
coefficient-major (coefficient ``(0, 0)`` of every block, then ``(0, 1)``, ...) so that
similar values sit together, and compressed by zstandard at level 19.

Stream layout: a 16-byte header ``<4sBBHIf`` (magic ``b"DCTq"``, version, block size, bins,
frames, scale) followed by the zstd frame. Version 1 stores the integers as int16; version 2
(``narrow=True`` when every integer fits) as int8, which zstd packs 18-19 % smaller (residual
layer, 5 held-out clips, scales 0.5-2) because half of the int16 bytes are sign extension.
Decoding yields the log-spectrogram; phase is left to Griffin-Lim (see
:func:`aecodec.bench.refcodecs.run_dct`).

References
----------
Wallace, G. K. (1991). The JPEG still picture compression standard. Communications of the
ACM 34(4), 30-44.
"""

from __future__ import annotations

import struct

import numpy as np
import zstandard

from aecodec.coding.zstd import decompress_exact
from aecodec.dsp.fft import dctn_ortho, idctn_ortho
from aecodec.errors import FormatError

MAGIC = b"DCTq"
VERSION = 1
"""Stream version of int16 coefficients (the reference codec's layout)."""
VERSION_NARROW = 2
"""Stream version of int8 coefficients."""
_WIDTH = {VERSION: "<i2", VERSION_NARROW: "i1"}
BLOCK = 16
"""Block edge in bins and frames."""
FREQ_SLOPE = 4.0
"""``a``: the step at Nyquist is ``1 + a`` times the step at DC."""
ORDER_SLOPE = 0.25
"""``b``: the step of coefficient ``(u, v)`` grows as ``1 + b * (u + v)``.

``a`` and ``b`` were picked from a grid (a in 0, 1, 2, 4; b in 0, 0.25, 0.5, 1) on 7 held-out
clips at 1.2, 4.9 and 24 kbit/s: larger ``a`` helps a little at every rate, ``b = 0.25`` is
best; the spread between settings is small next to the Griffin-Lim floor."""
ZSTD_LEVEL = 19
HEADER = struct.Struct("<4sBBHIf")
HEADER_BYTES = HEADER.size
"""Size of the stream header (16 bytes)."""


def quant_steps(block_rows: int, *, scale: float) -> np.ndarray:
    """Quantiser steps ``[block_rows, 1, BLOCK, BLOCK]`` (float64) for blocks of every row."""
    f = np.arange(block_rows) / max(block_rows - 1, 1)
    order = np.add.outer(np.arange(BLOCK), np.arange(BLOCK))
    steps = scale * (1 + FREQ_SLOPE * f)[:, None, None, None] * (1 + ORDER_SLOPE * order)
    return np.asarray(steps, dtype=np.float64)


def blocks_of(shape: tuple[int, int]) -> tuple[int, int]:
    """16x16 blocks ``(rows, cols)`` that cover a ``[freq, frames]`` spectrogram."""
    return -(-shape[0] // BLOCK), -(-shape[1] // BLOCK)


def encode_dct(logmag: np.ndarray, *, scale: float, level: int = ZSTD_LEVEL,
               narrow: bool = False) -> bytes:
    """Compress a log-magnitude spectrogram ``[freq, frames]`` to bytes.

    Parameters
    ----------
    logmag : np.ndarray ``[freq, frames]``
        Natural-log magnitudes, finite.
    scale : float
        Base quantiser step (> 0); larger is coarser and smaller.
    narrow : bool, default False
        Store int8 coefficients (version 2) when they fit; the default is the reference
        codec's int16 layout (version 1).

    Returns
    -------
    bytes
        Header and zstd payload; ``len()`` is the full cost of the stream.
    """
    if not scale > 0 or not np.isfinite(scale):
        raise ValueError(f"encode_dct() called with scale={scale}, not a positive number")
    if logmag.ndim != 2 or min(logmag.shape) == 0:
        raise ValueError(f"encode_dct() expects non-empty [freq, frames], got {logmag.shape}")
    if not 0 < logmag.shape[0] < 2**16 or logmag.shape[1] >= 2**32:
        raise ValueError(f"encode_dct() cannot store a spectrogram of shape {logmag.shape}")
    return encode_coefficients(dct_blocks(logmag), shape=logmag.shape, scale=scale, level=level,
                               narrow=narrow)


def dct_blocks(logmag: np.ndarray) -> np.ndarray:
    """Edge-pad ``[freq, frames]`` to 16x16 blocks -> DCT-II coefficients
    ``[rows, cols, 16, 16]`` (float64): the part of :func:`encode_dct` that does not depend on
    the scale, so a rate search can compute it once."""
    rows, cols = blocks_of(logmag.shape)
    padded = np.pad(np.asarray(logmag, dtype=np.float64),
                    ((0, rows * BLOCK - logmag.shape[0]), (0, cols * BLOCK - logmag.shape[1])),
                    mode="edge")
    blocks = padded.reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3)
    return dctn_ortho(blocks, axes=(2, 3))


def quantize_coefficients(coefs: np.ndarray, *, scale: float, exact: bool = True) -> np.ndarray:
    """:func:`dct_blocks` output -> integers ``[16, 16, rows, cols]`` (int64, coefficient-major)
    at ``scale`` (rounded to float32 first: the value a stream stores). ``exact=False``: the
    unrounded quotients (float64), for a search that divides by many scales."""
    if not scale > 0 or not np.isfinite(scale):
        raise ValueError(f"encode_dct() called with scale={scale}, not a positive number")
    scale = float(np.float32(scale))
    quot = coefs / quant_steps(coefs.shape[0], scale=scale)
    if not exact:
        return np.ascontiguousarray(quot.transpose(2, 3, 0, 1))
    return np.ascontiguousarray(np.rint(quot).astype(np.int64).transpose(2, 3, 0, 1))


def encode_coefficients(coefs: np.ndarray, *, shape: tuple[int, int], scale: float,
                        level: int = ZSTD_LEVEL, narrow: bool = False) -> bytes:
    """Quantize :func:`dct_blocks` output at ``scale`` and write the stream for ``shape``
    (``narrow``: as int8, stream version 2, when every integer fits; else version 1)."""
    ints = quantize_coefficients(coefs, scale=scale)
    scale = float(np.float32(scale))  # the value the header stores and the decoder uses
    peak = np.abs(ints).max()
    if peak > 32767:
        raise ValueError(f"encode_dct() called with scale={scale:.4g}: too fine a step for "
                         "16-bit coefficients")
    version = VERSION_NARROW if narrow and peak <= 127 else VERSION
    payload = ints.astype(_WIDTH[version]).tobytes()
    header = HEADER.pack(MAGIC, version, BLOCK, shape[0], shape[1], scale)
    return header + zstandard.ZstdCompressor(level=level).compress(payload)


def reconstruct(ints: np.ndarray, *, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Integers ``[16, 16, rows, cols]`` at ``scale`` -> float32 log-magnitudes ``shape``."""
    rows, cols = ints.shape[2:]
    coefs = ints.transpose(2, 3, 0, 1) * quant_steps(rows, scale=scale)
    blocks = idctn_ortho(coefs, axes=(2, 3))
    padded = blocks.transpose(0, 2, 1, 3).reshape(rows * BLOCK, cols * BLOCK)
    return np.ascontiguousarray(padded[:shape[0], :shape[1]], dtype=np.float32)


def decode_dct(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_dct`: bytes -> float32 log-magnitudes ``[freq, frames]``.

    Raises :class:`aecodec.errors.FormatError` for a foreign, truncated or corrupt stream.
    """
    ints, shape, scale = _parse(data)
    return reconstruct(ints, shape=shape, scale=scale)


def _parse(data: bytes) -> tuple[np.ndarray, tuple[int, int], float]:
    if len(data) < HEADER_BYTES:
        raise FormatError(f"DCT stream of {len(data)} bytes is shorter than its header")
    magic, version, block, freq, frames, scale = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FormatError(f"not a DCT stream (magic {magic!r}, expected {MAGIC!r})")
    if version not in _WIDTH or block != BLOCK:
        raise FormatError(f"DCT stream version {version} block {block} is unsupported")
    width = np.dtype(_WIDTH[version])
    rows, cols = blocks_of((freq, frames))
    size = rows * cols * BLOCK * BLOCK * width.itemsize
    payload = decompress_exact(data[HEADER_BYTES:], size, name="DCT stream", what="payload",
                               unit="bytes")
    ints = np.frombuffer(payload, dtype=width).reshape(BLOCK, BLOCK, rows, cols)
    return ints, (freq, frames), scale


def decode_coefficients(data: bytes) -> np.ndarray:
    """A stream's quantized integers ``[16, 16, rows, cols]`` (int16 or int8)."""
    return _parse(data)[0]
