"""Decoding: ``.aec`` bytes -> audio, chunk by chunk (or a whole file's latent / ln-magnitudes).

Container chunks (:mod:`aecodec.format.container`) -> symbols (:mod:`aecodec.codec.parse`) ->
the decoder net, enhancement layer, Fast Griffin-Lim and stereo gains
(:class:`aecodec.codec.chunks.ChunkDecoder`) -> block-wise resampling to the output rate ->
above 22050 Hz, the high-band layer (:class:`aecodec.coding.highband_stream.HighbandSynth`).
Memory is bounded by the chunk size, not the file length.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from aecodec.codec.chunks import ChunkDecoder, layout_of
from aecodec.codec.coders import coder_for_file
from aecodec.codec.determinism import one_blas_thread
from aecodec.codec.parse import chunk_symbols, latent_of, parse_file
from aecodec.codec.pipeline import staged
from aecodec.coding import stereo_image
from aecodec.coding.highband_stream import HighbandSynth
from aecodec.dsp.np_spectral import DEFAULT_MOMENTUM
from aecodec.dsp.resample import StreamResampler
from aecodec.errors import CorruptChunkError, FormatError, OptionError
from aecodec.format import container
from aecodec.format.meta import read_meta, validate_meta
from aecodec.model.np_nets import Net
from aecodec.model.registry import model_for


def decode_to(f: IO[bytes], sink: Callable[[np.ndarray], None], *, name: str = "<stream>",
              rate: int | None = None, start: float = 0.0, duration: float | None = None,
              iters: int | None = None, momentum: float = DEFAULT_MOMENTUM, seed: int = 0,
              ignore_errors: bool = False, model_path: Path | None = None,
              on_plan: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Decode a seekable ``.aec`` stream chunk by chunk, passing ``[n, channels]`` float32
    blocks to ``sink``. ``start``/``duration`` (seconds) decode only the chunks needed.
    ``ignore_errors``: a chunk failing its CRC decodes as silence, and a truncated stream
    decodes up to its last whole chunk. ``on_plan(frames)`` is called once, before the first
    ``sink`` call, with the number of frames that will be written.

    Returns ``{"rate", "channels", "frames", "damaged", "missing"}`` of what was written
    (``missing``: chunks cut off a truncated file). The samples do not depend on the thread
    count (:func:`aecodec.codec.determinism.one_blas_thread`).
    """
    with one_blas_thread():
        return _decode_to(f, sink, name=name, rate=rate, start=start, duration=duration,
                          iters=iters, momentum=momentum, seed=seed, ignore_errors=ignore_errors,
                          model_path=model_path, on_plan=on_plan)


def output_span(meta: dict[str, Any], *, rate: int, start: float = 0.0,
                duration: float | None = None, name: str = "<stream>",
                total: int | None = None) -> tuple[int, int]:
    """Output samples ``[first, last)`` at ``rate`` that ``start``/``duration`` (seconds)
    select (``total``: the samples there are, default the file's length);
    :class:`OptionError` for a NaN, infinite or negative value (a duration past the end stops
    at the end)."""
    if not (isinstance(start, (int, float)) and math.isfinite(start) and start >= 0):
        raise OptionError(f"{name}: --start {start!r} is not a time >= 0")
    if duration is not None and not (isinstance(duration, (int, float))
                                     and not math.isnan(duration) and duration > 0):
        raise OptionError(f"{name}: --duration {duration!r} is not a time > 0")
    if total is None:
        total = round(meta["length"] * rate / meta["rate"])
    first = min(total, round(min(start * rate, total)))
    if duration is None or duration * rate >= total - first:
        return first, total
    return first, first + round(duration * rate)


def _decode_to(f: IO[bytes], sink: Callable[[np.ndarray], None], *, name: str,
               rate: int | None, start: float, duration: float | None, iters: int | None,
               momentum: float, seed: int, ignore_errors: bool, model_path: Path | None,
               on_plan: Callable[[int], None] | None) -> dict[str, Any]:
    meta, index = container.scan_chunks(f, name=name, partial=ignore_errors)
    validate_meta(meta, name=name)
    net = model_for(meta, name=name, model_path=model_path)
    lay = layout_of(meta, down=net.cfg.down)
    missing = lay.chunks - len(index)
    if missing < 0 or (missing and not ignore_errors):
        raise FormatError(f"{name}: holds {len(index)} chunks, metadata implies {lay.chunks}")
    if missing == lay.chunks:
        raise FormatError(f"{name}: truncated before its first whole chunk")
    out_rate = rate or meta["rate"]
    mr = meta["model_rate"]
    total = round(meta["length"] * out_rate / meta["rate"])
    if missing:  # truncated: audio up to the end of the last whole chunk
        end = min(lay.core(len(index) - 1)[1] * lay.hop, lay.samples)
        total = min(total, end * out_rate // mr)
    first_out, last_out = output_span(meta, rate=out_rate, start=start, duration=duration,
                                      name=name, total=total)
    k0 = max(0, int(first_out / out_rate * mr) // lay.hop // lay.seg - 1)  # one warm-up chunk
    k1 = min(len(index), math.ceil(last_out / out_rate * mr / lay.hop / lay.seg) + 1)
    if on_plan is not None:
        on_plan(last_out - first_out)
    stereo = meta["stereo"] in ("ild", "image")
    out_ch = 2 if stereo else meta["channels"]
    coder = coder_for_file(meta, name=name)
    decoder = ChunkDecoder(net, lay, stereo=stereo, iters=iters, momentum=momentum, seed=seed,
                           image_slot=stereo_image.slot_of(meta))
    resampler = StreamResampler(orig_rate=mr, new_rate=out_rate)
    run_start = lay.core(k0)[0] * lay.hop  # model-rate sample where decoded audio begins
    aligned = -(-run_start // resampler.down) * resampler.down
    skip_in = aligned - run_start
    pos = [aligned * resampler.up // resampler.down]  # absolute output index of next sample
    damaged = 0
    hbm = meta.get("highband")
    synth = (HighbandSynth(rate=out_rate, bands=hbm["bands"], slot=hbm["slot"],
                           channels=2 if stereo else 1, start=pos[0], source_rate=meta["rate"])
             if hbm is not None and out_rate > mr else None)

    def put(y: np.ndarray) -> None:
        nonlocal skip_in
        if skip_in:
            cut = min(skip_in, len(y))
            y, skip_in = y[cut:], skip_in - cut
        out = resampler.feed(y) if len(y) else y
        emit(out if synth is None else synth.feed(out))

    def emit(out: np.ndarray) -> None:
        a, b = pos[0], pos[0] + len(out)
        pos[0] = b
        lo, hi = max(a, first_out), min(b, last_out)
        if hi > lo:
            part = out[lo - a:hi - a]
            sink(np.repeat(part, out_ch, axis=1) if part.shape[1] != out_ch else part)

    def produce(out: Callable[[tuple[str, Any, Any]], None]) -> None:
        """Parse, decoder net and Griffin-Lim, chunk by chunk (in the pipeline's thread)."""
        nonlocal damaged
        for k in range(k0, k1):
            try:
                payload: bytes | None = container.read_chunk(f, index[k], name=name,
                                                              position=k, count=len(index))
            except CorruptChunkError:
                if not ignore_errors:
                    raise
                payload, damaged = None, damaged + 1
            symbols = chunk_symbols(payload, k, meta=meta, lay=lay, name=name, coder=coder)
            if synth is not None and symbols.highband is not None and hbm is not None:
                out(("envelope", lay.core(k)[0] // hbm["slot"], symbols.highband))
            for y in decoder.push(symbols):
                out(("audio", y, None))
        for y in decoder.finish():
            out(("audio", y, None))

    for kind, a, b in staged(produce, depth=4):  # resampling, high band, output meanwhile
        if kind == "envelope" and synth is not None:
            synth.add(a, b)
        else:
            put(a)
    emit(resampler.flush() if synth is None else synth.feed(resampler.flush()))
    if synth is not None:
        emit(synth.flush())
    if pos[0] < last_out:  # rounding: pad the last few samples
        emit(np.zeros((last_out - pos[0], 1 if not stereo else 2), np.float32))
    return {"rate": out_rate, "channels": out_ch, "frames": last_out - first_out,
            "damaged": damaged, "missing": missing}


def decode_audio(data: bytes, *, name: str = "<stream>",
                 rate: int | None = None, iters: int | None = None, seed: int = 0,
                 model_path: Path | None = None, ignore_errors: bool = False,
                 start: float = 0.0, duration: float | None = None,
                 ) -> tuple[np.ndarray, int, int]:
    """In-memory decode -> (audio ``[frames, channels]`` float32, rate, damaged chunks)."""
    blocks: list[np.ndarray] = []
    info = decode_to(io.BytesIO(data), blocks.append, name=name, rate=rate, iters=iters,
                     seed=seed, model_path=model_path, ignore_errors=ignore_errors,
                     start=start, duration=duration)
    out = np.concatenate(blocks) if blocks else np.zeros((0, info["channels"]), np.float32)
    return out.astype(np.float32), info["rate"], info["damaged"]


def decode_latent(aec: container.AecFile, *, name: str = "<stream>",
                  net: Net | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The DEQUANTIZED latent of a whole parsed file, ``[C, Tl]`` float32, and the quantizer
    step of every latent frame ``[Tl]`` (steps differ per chunk). Damaged chunks (``None``)
    come back as zeros."""
    validate_meta(aec.meta, name=name)
    net = net or model_for(aec.meta, name=name)
    return latent_of(parse_file(aec, name=name, net=net)[1])


def decode_logmag(data: bytes, *, name: str = "<stream>", model_path: Path | None = None,
                  net: Net | None = None) -> np.ndarray:
    """The decoded ln-magnitudes (decoder net + enhancement layer) of the mid signal for a whole
    file, ``[1, bins, frames]`` (for diagnostics: no Griffin-Lim). ``net``: decode with this
    network (e.g. the torch reference) instead of the one the file names."""
    aec = container.unpack(data, name=name)
    validate_meta(aec.meta, name=name)
    net = net or model_for(aec.meta, name=name, model_path=model_path)
    lay, chunks = parse_file(aec, name=name, net=net)
    latent, steps = latent_of(chunks)
    out = net.decode(latent[None], step=steps[None, None], frames=aec.meta["frames"]).copy()
    for k, chunk in enumerate(chunks):  # the enhancement layer, where present
        if chunk.residual is not None:
            f0, f1 = lay.core(k)
            out[0, :, f0:f1] += chunk.residual
    return out


def read_file(path: Path, *, ignore_errors: bool = False) -> container.AecFile:
    """Parse and validate a whole ``.aec`` file (one-line :class:`FormatError` on any problem)."""
    read_meta(path)
    with open(path, "rb") as f:
        aec = container.read_aec(f, name=str(path), ignore_errors=ignore_errors)
    return aec
