"""Chunk payloads -> the symbols the decoder needs: dequantized latent, ILD or stereo image,
residual, phases."""

from __future__ import annotations

from typing import IO, Any

import numpy as np

from aecodec.codec.chunks import ChunkSymbols, Layout, layout_of
from aecodec.codec.coders import StreamCoder, coder_for_file
from aecodec.codec.ratecontrol import STEP_MAX
from aecodec.coding import highband_layer, peakphase, stereo_image
from aecodec.coding.stereo import BANDS, ILD_FRAMES
from aecodec.errors import FormatError
from aecodec.format import container
from aecodec.format.payload import HIGHBAND, ILD, IMAGE, LATENT, PHASE, RESIDUAL, unpack_payload
from aecodec.model.np_nets import Net


def chunk_symbols(payload: bytes | None, k: int, *, meta: dict[str, Any], lay: Layout,
                  name: str, coder: StreamCoder) -> ChunkSymbols:
    """Parse chunk ``k`` (``None``: damaged, decoded as silence-like zeros) with the file's
    ``coder`` (:func:`aecodec.codec.coders.coder_for_file`)."""
    f0, f1 = lay.core(k)
    width = -(-(f1 - f0) // lay.down)
    channels = meta["latent"][0]
    stereo = meta["stereo"] == "ild"
    slot = stereo_image.slot_of(meta)
    ild_width = -(-(f1 - f0) // ILD_FRAMES)
    if payload is None:  # damaged: silence-like latent, centred and coherent stereo
        image = None
        if slot is not None:
            s_ild, s_icc = stereo_image.shapes(frames=f1 - f0, slot=slot)
            image = (np.zeros(s_ild, np.int8), np.zeros(s_icc, np.int8))
        return ChunkSymbols(k, np.full((channels, width), 0, np.float32), STEP_MAX,
                            np.zeros((BANDS, ild_width), np.int8) if stereo else None,
                            image=image)
    shapes = {LATENT: (channels, width), **({ILD: (BANDS, ild_width)} if stereo else {})}
    label = f"{name}: chunk {k + 1} of {lay.chunks}"
    streams = unpack_payload(payload, shapes=shapes, name=label, raw_latent=coder.raw_latent,
                             raw=(IMAGE,) if slot is not None else ())
    step, data = streams[LATENT]
    symbols = coder.decode_latent(data, step=step, shape=(channels, width), name=label)
    ild = streams[ILD][1] if stereo else None
    residual = None
    if RESIDUAL in streams:
        scale, raw = streams[RESIDUAL]
        if not isinstance(raw, bytes):
            raise TypeError("unpack_payload() returns the residual stream as bytes")
        residual = coder.decode_residual(raw, scale=scale, shape=(lay.n_fft // 2 + 1, f1 - f0),
                                         name=label)
    phase = None
    if PHASE in streams:
        if "phase" not in meta:
            raise FormatError(f"{label}: a peak-phase stream in a file without the layer")
        raw = streams[PHASE][1]
        if not isinstance(raw, bytes):
            raise TypeError("unpack_payload() returns the phase stream as bytes")
        phase = peakphase.parse_symbols(raw, frames=f1 - f0, count=meta["phase"]["peaks"],
                                        name=label)
    image = None
    if slot is not None:
        img_step, raw = streams[IMAGE]
        if not isinstance(raw, bytes):
            raise TypeError("unpack_payload() returns the stereo-image stream as bytes")
        if img_step != stereo_image.ILD_STEP_DB:
            raise FormatError(f"{label}: stereo-image step {img_step!r} is not "
                              f"{stereo_image.ILD_STEP_DB}")
        image = stereo_image.unpack_image(raw, frames=f1 - f0, slot=slot, name=label)
    highband = None
    if HIGHBAND in streams:
        if "highband" not in meta:
            raise FormatError(f"{label}: a high-band stream in a file without the layer")
        hb_step, raw = streams[HIGHBAND]
        if not isinstance(raw, bytes):
            raise TypeError("unpack_payload() returns the high-band stream as bytes")
        hbm = meta["highband"]
        highband = highband_layer.decode_stream(
            raw, hb_step, bands=hbm["bands"], slots=highband_layer.chunk_slots(f1 - f0, hbm["slot"]),
            name=label)
    return ChunkSymbols(k, symbols.astype(np.float32) * step, step,
                        ild if isinstance(ild, np.ndarray) else None, residual, phase, image,
                        highband)


def stream_latent(f: IO[bytes], *, name: str, net: Net, ignore_errors: bool = False,
                  layers: list[tuple[Any, Any]] | None = None
                  ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The validated metadata, dequantized latent ``[C, Tl]`` and per-frame steps ``[Tl]`` of
    a seekable ``.aec`` stream, read chunk by chunk: only the latent streams are decoded, so
    memory is one chunk plus the latent (64 floats a latent frame), never the whole file.
    ``layers``: a list that gets, per chunk, ``(high-band envelope dB [bands, slots] or None,
    stereo image symbols (q_ild, q_icc) or None)`` (the genre features; no audio decoded)."""
    from aecodec.format.meta import validate_meta
    meta, index = container.scan_chunks(f, name=name)
    validate_meta(meta, name=name)
    lay = layout_of(meta, down=net.cfg.down)
    if len(index) != lay.chunks:
        raise FormatError(f"{name}: holds {len(index)} chunks, metadata implies {lay.chunks}")
    coder = coder_for_file(meta, name=name)
    channels = meta["latent"][0]
    parts: list[np.ndarray] = []
    steps: list[np.ndarray] = []
    for k, entry in enumerate(index):
        f0, f1 = lay.core(k)
        width = -(-(f1 - f0) // lay.down)
        try:
            payload = container.read_chunk(f, entry, name=name, position=k, count=len(index))
        except FormatError:
            if not ignore_errors:
                raise
            parts.append(np.zeros((channels, width), np.float32))
            steps.append(np.full(width, STEP_MAX, np.float32))
            continue
        label = f"{name}: chunk {k + 1} of {lay.chunks}"
        shapes = {LATENT: (channels, width)}
        if meta["stereo"] == "ild":
            shapes[ILD] = (BANDS, -(-(f1 - f0) // ILD_FRAMES))
        raw = (IMAGE,) if meta.get("stereo") == "image" else ()
        streams = unpack_payload(payload, shapes=shapes, name=label,
                                 raw_latent=coder.raw_latent, raw=raw)
        step, data = streams[LATENT]
        if layers is not None:
            layers.append(_side_layers(streams, meta=meta, frames=f1 - f0, name=label))
        symbols = coder.decode_latent(data, step=step, shape=(channels, width), name=label)
        parts.append(symbols.astype(np.float32) * np.float32(step))
        steps.append(np.full(width, step, np.float32))
    return meta, np.concatenate(parts, axis=1), np.concatenate(steps)


def _side_layers(streams: dict[int, Any], *, meta: dict[str, Any], frames: int,
                 name: str) -> tuple[Any, Any]:
    """One chunk's high-band envelope (dB) and stereo image symbols, None where absent."""
    env = image = None
    if HIGHBAND in streams and "highband" in meta:
        hbm = meta["highband"]
        hb_step, raw = streams[HIGHBAND]
        env = highband_layer.decode_stream(
            raw, hb_step, bands=hbm["bands"], slots=highband_layer.chunk_slots(frames, hbm["slot"]),
            name=name)
    slot = stereo_image.slot_of(meta)
    if slot is not None and IMAGE in streams:
        image = stereo_image.unpack_image(streams[IMAGE][1], frames=frames, slot=slot, name=name)
    return env, image


def parse_file(aec: container.AecFile, *, name: str,
               net: Net) -> tuple[Layout, list[ChunkSymbols]]:
    """Every chunk of a validated, parsed file (entropy-decoded once), with its layout."""
    lay = layout_of(aec.meta, down=net.cfg.down)
    if len(aec.chunks) != lay.chunks:
        raise FormatError(f"{name}: holds {len(aec.chunks)} chunks, metadata implies {lay.chunks}")
    coder = coder_for_file(aec.meta, name=name)
    return lay, [chunk_symbols(c, k, meta=aec.meta, lay=lay, name=name, coder=coder)
                 for k, c in enumerate(aec.chunks)]


def latent_of(chunks: list[ChunkSymbols]) -> tuple[np.ndarray, np.ndarray]:
    """The dequantized latent ``[C, Tl]`` of consecutive chunks and each frame's step ``[Tl]``."""
    latent = np.concatenate([c.latent for c in chunks], axis=1)
    steps = np.concatenate([np.full(c.latent.shape[1], c.step, np.float32) for c in chunks])
    return latent, steps
