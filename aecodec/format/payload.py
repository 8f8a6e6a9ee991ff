"""Chunk payloads: the quantized streams of one chunk, each with its own quantizer step.

Layout (all little-endian)::

    u8  S                      number of streams (1: latent; 2: latent + stereo ILD)
    S x { u8 kind, f32 step, u32 n, n bytes: the stream (a zstd frame or ANS words, see below) }

``kind`` 0 is the autoencoder latent (``rows`` = latent channels, ``step`` = quantizer step),
kind 1 the stereo ILD (``rows`` = ILD bands, ``step`` = dB per symbol); the shape of these
(``rows x width``) is implied by the metadata. Kind 2, optional, is the enhancement layer: a
DCT-coded ln-magnitude residual (``step`` = its scale). With the metadata's ``"zstd"`` coder
the latent is a zstd frame and the residual an :mod:`aecodec.coding.residual` stream; with an
``"ans-<sha>"`` coder both are ANS words of :mod:`aecodec.coding.ans` (no DCT header: the shape
comes from the metadata) and steps lie on its grid. The ILD stream is zstd in both. Kind 3,
optional, is the peak-phase layer (:mod:`aecodec.coding.peakphase`; ``step`` = the phase quantum).
Kind 5 is the stereo image (:mod:`aecodec.coding.stereo_image`; ``step`` = dB per ILD symbol),
left as bytes and required when the caller names it in ``raw``. Kind 4, optional, is the
high-band layer (:mod:`aecodec.coding.highband_layer`; ``step`` = the envelope's dB step).
"""

from __future__ import annotations

import math
import struct

import numpy as np

from aecodec.coding.zstd import ZSTD_LEVEL, decode_symbols, encode_symbols
from aecodec.errors import FormatError

LATENT, ILD, RESIDUAL, PHASE, HIGHBAND, IMAGE = 0, 1, 2, 3, 4, 5
OPTIONAL = (RESIDUAL, PHASE, HIGHBAND)
"""Kinds a chunk may hold or not; they are returned as raw bytes."""
_STREAM = struct.Struct("<BfI")


def pack_payload(streams: list[tuple[int, float, bytes]]) -> bytes:
    """``[(kind, step, zstd_frame), ...]`` -> payload bytes."""
    out = [bytes([len(streams)])]
    for kind, step, frame in streams:
        out += [_STREAM.pack(kind, step, len(frame)), frame]
    return b"".join(out)


def unpack_payload(payload: bytes, *, shapes: dict[int, tuple[int, int]], name: str,
                   raw_latent: bool = False,
                   raw: tuple[int, ...] = ()) -> dict[int, tuple[float, np.ndarray | bytes]]:
    """Payload -> ``{kind: (step, symbols int8 shaped shapes[kind])}`` plus, if present,
    ``{RESIDUAL: (scale, raw bytes)}``; every kind in ``shapes`` must be present exactly once,
    nothing else, no trailing bytes. ``raw_latent``: the latent stream is left as bytes (an
    ``ans`` coder's stream, :mod:`aecodec.coding.ans`). ``raw``: further kinds that must be
    present once, returned as bytes (the stereo image)."""
    if not payload:
        raise FormatError(f"{name}: empty payload")
    count, pos = payload[0], 1
    found: dict[int, tuple[float, np.ndarray | bytes]] = {}
    for _ in range(count):
        if pos + _STREAM.size > len(payload):
            raise FormatError(f"{name}: payload truncated (stream header)")
        kind, step, n = _STREAM.unpack_from(payload, pos)
        pos += _STREAM.size
        if (kind not in shapes and kind not in (*OPTIONAL, *raw)) or kind in found:
            raise FormatError(f"{name}: unexpected stream kind {kind}")
        if not (math.isfinite(step) and 0 < step < 1e6):
            raise FormatError(f"{name}: invalid quantizer step {step!r}")
        if pos + n > len(payload):
            raise FormatError(f"{name}: payload truncated (stream of {n} bytes)")
        if kind in (*OPTIONAL, *raw) or (kind == LATENT and raw_latent):
            found[kind] = (float(step), payload[pos:pos + n])
        else:
            rows, width = shapes[kind]
            found[kind] = (float(step), decode_symbols(payload[pos:pos + n], channels=rows,
                                                       frames=width, name=name))
        pos += n
    if pos != len(payload) or set(found) - set(OPTIONAL) != set(shapes) | set(raw):
        raise FormatError(f"{name}: payload holds streams {sorted(found)}, expected "
                          f"{sorted(set(shapes) | set(raw))}")
    return found


def encode_stream(symbols: np.ndarray, *, level: int = ZSTD_LEVEL) -> bytes:
    """int8 ``[rows, width]`` -> zstd frame at ``level`` (see :mod:`aecodec.coding.zstd`)."""
    return encode_symbols(np.ascontiguousarray(symbols), level=level)
