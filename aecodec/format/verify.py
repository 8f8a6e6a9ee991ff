"""``info`` checks: the chunk count the metadata implies, and ``info --verify``, which reads
every chunk, checks its CRC and parses its streams, without a model (numpy and zstd only).

A latent stream of the ``"zstd"`` coder and every stereo (ILD) stream decompress to exactly
the size the metadata implies (:func:`aecodec.coding.zstd.decompress_exact`), so a length that
was forged together with ``chunk_frames`` is found there; ANS streams are parsed for their
structure only (their symbols need the entropy tables: ``decode`` checks them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aecodec.coding import stereo_image
from aecodec.coding.stereo import BANDS, ILD_FRAMES
from aecodec.errors import FormatError
from aecodec.format import container
from aecodec.format.payload import ILD, IMAGE, LATENT, unpack_payload

DOWN = 4
"""STFT frames per latent frame (docs/format.md: ``chunks = ceil(frames / (chunk_frames * 4))``)."""


def implied_chunks(meta: dict[str, Any]) -> int:
    """Chunks a validated file must hold."""
    return -(-meta["frames"] // (meta["chunk_frames"] * DOWN))


def check_count(meta: dict[str, Any], index: list[container.ChunkIndex], *, name: str) -> None:
    """The checks decode makes before loading a model: chunk count and latent length."""
    if meta["latent"][1] != -(-meta["frames"] // DOWN):
        raise FormatError(f"{name}: invalid metadata (latent length {meta['latent'][1]} does "
                          f"not match frames={meta['frames']})")
    if len(index) != implied_chunks(meta):
        raise FormatError(f"{name}: holds {len(index)} chunks, metadata implies "
                          f"{implied_chunks(meta)}")


def verify_chunks(path: Path, meta: dict[str, Any], index: list[container.ChunkIndex], *,
                  name: str) -> int:
    """Read every chunk of ``path``: CRC, stream structure and, where the metadata fixes it,
    the decompressed size of each stream. Returns the chunks checked; raises
    :class:`FormatError` (:class:`~aecodec.errors.CorruptChunkError` for a CRC) naming the
    first bad chunk. Memory: one chunk at a time."""
    seg = meta["chunk_frames"] * DOWN
    stereo = meta["stereo"] == "ild"
    raw = meta["coder"] != "zstd"
    slot = stereo_image.slot_of(meta)
    with open(path, "rb") as f:
        for k, entry in enumerate(index):
            payload = container.read_chunk(f, entry, name=name, position=k, count=len(index))
            frames = min((k + 1) * seg, meta["frames"]) - k * seg
            shapes = {LATENT: (meta["latent"][0], -(-frames // DOWN))}
            if stereo:
                shapes[ILD] = (BANDS, -(-frames // ILD_FRAMES))
            label = f"{name}: chunk {k + 1} of {len(index)}"
            streams = unpack_payload(payload, shapes=shapes, name=label, raw_latent=raw,
                                     raw=(IMAGE,) if slot is not None else ())
            if slot is not None:
                image = streams[IMAGE][1]
                if not isinstance(image, bytes):
                    raise TypeError("unpack_payload() returns the stereo image as bytes")
                stereo_image.unpack_image(image, frames=frames, slot=slot, name=label)
    return len(index)
