"""Encoding: audio blocks -> ``.aec`` bytes, chunk by chunk, with memory bounded by the chunk.

Mix-down (mono, or mid + left/right for parametric stereo) -> block-wise resampling to the
model rate (:mod:`aecodec.dsp.resample`) -> per chunk: ln|STFT| and the encoder net
(:class:`aecodec.codec.chunks.ChunkEncoder`) -> the chunk's layers in its byte budget
(:mod:`aecodec.codec.layers`, rate control in :mod:`aecodec.codec.ratecontrol`) -> the
container (:mod:`aecodec.format.container`).
"""

from __future__ import annotations

import io
import math
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, NamedTuple

import numpy as np

from aecodec.codec.chunks import ChunkEncoder, ChunkLatent, layout_of
from aecodec.codec.coders import coder_for_encoding
from aecodec.codec.determinism import one_blas_thread
from aecodec.codec.layers import BASE_KBPS, chunk_payload
from aecodec.codec.ratecontrol import STEP_MAX, STEP_MIN, RateState
from aecodec.coding import highband_layer, peakphase, stereo_image
from aecodec.coding.highband_stream import HighbandAnalyzer
from aecodec.dsp.audio import Audio, mixdown
from aecodec.dsp.resample import StreamResampler
from aecodec.errors import AecError
from aecodec.format import container
from aecodec.format.meta import CODEC_NAME, ILD_META, MAX_KBPS, MIN_KBPS, TAG_KEYS, valid_tags
from aecodec.model.registry import Model, default_model

CHUNK_FRAMES = 128
"""Latent frames per container chunk (128 x 4 x 256 / 22050 Hz = 5.94 s)."""
LADDER = (3.0, 6.0, 12.0)
"""Named operating points in kbps; any value in [MIN_KBPS, MAX_KBPS] is accepted."""
DEFAULT_KBPS = 6.0
MAX_QUEUED = 8
"""Input blocks whose high-band analysis waits for the coding thread, at most (the reader runs
ahead of the coder by a bounded amount: memory stays flat)."""


class Encoded(NamedTuple):
    """An encoded file: container metadata and chunk payloads."""

    meta: dict[str, Any]
    chunks: list[bytes]

    def to_bytes(self) -> bytes:
        return container.pack(self.meta, self.chunks)

    @property
    def nbytes(self) -> int:
        return len(self.to_bytes())


def make_meta(model: Model, *, rate: int, channels: int, length: int, stereo: bool,
              coder: str = "zstd", peaks: int = 0, kbps: float = DEFAULT_KBPS,
              stereo_kind: str = "image", highband: tuple[int, int] | None = None,
              tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Container metadata for a file (see docs/format.md). ``stereo_kind``: ``"image"`` (the
    stereo image, its slot chosen for ``kbps``: what encoders write) or ``"ild"`` (level
    differences only, as files before the image). ``highband``: ``(bands, slot)`` of the
    high-band layer, if the file carries it. ``tags``: text fields to keep (none: no
    ``"tags"`` key, the bytes of files without tags stay as they were)."""
    net, mmeta = model
    st = net.cfg.stft
    samples = math.ceil(length * st.rate / rate)
    frames = samples // st.hop + 1
    meta: dict[str, Any] = {
        "codec": CODEC_NAME, "model": {"id": mmeta["model_id"], "sha256": mmeta["sha256"][:16]},
        "rate": rate, "channels": channels, "length": length,
        "model_rate": st.rate, "n_fft": st.n_fft, "hop": st.hop, "frames": frames,
        "latent": [net.cfg.latent, -(-frames // net.cfg.down)], "chunk_frames": CHUNK_FRAMES,
        "quant": {"dtype": "int8"}, "coder": coder, "stereo": "none",
    }
    if stereo and stereo_kind == "ild":
        meta["stereo"] = "ild"
        meta["ild"] = dict(ILD_META)
    elif stereo:
        meta["stereo"] = "image"
        meta["image"] = stereo_image.meta_for(kbps)
    if peaks:
        meta["phase"] = peakphase.meta_for(peaks)
    if highband:
        meta["highband"] = highband_layer.meta_for(*highband)
    if tags:
        meta["tags"] = dict(tags)
    return meta


def step_range(model: Model) -> tuple[float, float]:
    """Quantizer steps the model's decoder was trained on (``STEP_MIN..STEP_MAX`` if unknown)."""
    train = model[1].get("info", {}).get("train", {})
    return float(train.get("step_min", STEP_MIN)), float(train.get("step_max", STEP_MAX))


def encode_blocks(blocks: Iterable[np.ndarray], out: IO[bytes], *, rate: int, channels: int,
                  length: int, kbps: float = DEFAULT_KBPS, model: Model | None = None,
                  mono: bool = False, base_kbps: float = BASE_KBPS, enhance: bool = True,
                  coder: str | None = None, peaks: int | None = None,
                  stereo_kind: str = "image", highband: bool = True,
                  tags: dict[str, str] | None = None) -> int:
    """Encode float32 ``[n, channels]`` blocks (``length`` frames in all) into ``out``.

    Two channels are coded as a stereo image (:mod:`aecodec.coding.stereo_image`; with
    ``stereo_kind="ild"`` as the level differences alone, as before it) unless ``mono``;
    other counts as a mono mix-down. Each chunk's quantizer step is chosen so the whole file, header included, lands
    on ``kbps`` (actual bits / duration). ``coder``: ``"zstd"``, ``"ans"`` (the model's
    :mod:`aecodec.coding.ans` tables; :class:`ModelError` if it has none) or None (``"ans"``
    when the model has tables, else ``"zstd"``). ``peaks``: peaks a frame of the peak-phase
    layer (:mod:`aecodec.coding.peakphase`; 0: none; None: ``peakphase.peaks_for(kbps)``,
    with the enhancement layer only). ``highband``: for a source above 22050 Hz, send the
    high-band layer (:mod:`aecodec.coding.highband_layer`; with the enhancement layer only,
    from ``highband_layer.MIN_KBPS``), its bits taken from the enhancement layer's. ``tags``:
    text fields stored in the metadata (:data:`aecodec.format.meta.TAG_KEYS`). Returns the
    bytes written. BLAS runs on one thread inside (as in decoding: OpenBLAS on two threads
    sums in another order, and on a busy machine its threads spin; measured 12x slower).
    """
    if not MIN_KBPS <= kbps <= MAX_KBPS:
        raise AecError(f"bitrate {kbps:g} kbps is outside {MIN_KBPS:g}..{MAX_KBPS:g}")
    with one_blas_thread():  # same bytes for any BLAS thread count, and no spin-waiting
        return _encode_blocks(blocks, out, rate=rate, channels=channels, length=length,
                              kbps=kbps, model=model, mono=mono, base_kbps=base_kbps,
                              enhance=enhance, coder=coder, peaks=peaks,
                              stereo_kind=stereo_kind, highband=highband, tags=tags)


def _encode_blocks(blocks: Iterable[np.ndarray], out: IO[bytes], *, rate: int, channels: int,
                   length: int, kbps: float, model: Model | None, mono: bool,
                   base_kbps: float, enhance: bool, coder: str | None, peaks: int | None,
                   stereo_kind: str, highband: bool, tags: dict[str, str] | None) -> int:
    model = model or default_model(kbps)
    net = model[0]
    stereo = channels == 2 and not mono
    streams = coder_for_encoding(coder, model_sha=model[1]["sha256"],
                                 model_id=model[1]["model_id"])
    peaks = (peakphase.peaks_for(kbps) if peaks is None else peaks) if enhance else 0
    if not 0 <= peaks <= peakphase.MAX_PEAKS:
        raise ValueError(f"encode_blocks() called with peaks={peaks}")
    if stereo_kind not in ("image", "ild"):
        raise ValueError(f"encode_blocks() called with stereo_kind={stereo_kind!r}")
    bands, slot, hb_step = (highband_layer.params_for(kbps, rate) if enhance and highband
                            else (0, 0, 0.0))
    meta = make_meta(model, rate=rate, channels=channels, length=length, stereo=stereo,
                     coder=streams.name, peaks=peaks, kbps=kbps, stereo_kind=stereo_kind,
                     highband=(bands, slot) if bands else None, tags=tags)
    if tags and not valid_tags(meta["tags"]):
        raise AecError(f"tags {sorted(tags)} are not short text fields of {TAG_KEYS}")
    lay = layout_of(meta, down=net.cfg.down)
    analyzer = (HighbandAnalyzer(rate=rate, bands=bands, slot=slot,
                                 chunks=[lay.core(k) for k in range(lay.chunks)])
                if bands else None)
    envelopes: dict[int, Any] = {}  # chunk -> high-band envelope (dB), filled ahead of code()
    steps = step_range(model)
    seconds = length / rate
    overhead = 12 + len(container.encode_meta(meta)) + 8 + 8 * lay.chunks
    budget = kbps * 1000 / 8 * seconds - overhead
    resampler = StreamResampler(orig_rate=rate, new_rate=net.cfg.stft.rate)
    encoder = ChunkEncoder(net, lay, keep_phase=peaks > 0,
                           image_slot=stereo_image.slot_of(meta))
    writer = container.AecWriter(out, meta)
    state = RateState()

    def code(k: int, cl: ChunkLatent) -> None:
        if analyzer is not None and k not in envelopes:
            raise RuntimeError(f"high-band envelope of chunk {k} not ready")
        f0, f1 = lay.core(k)
        share = (min(f1 * lay.hop, lay.samples) - f0 * lay.hop) / lay.samples
        target = state.chunk_target(budget=budget, share=share)
        payload = chunk_payload(
            cl, target_bytes=target, coder=streams, state=state, steps=steps,
            net=net if enhance else None, base_bytes=base_kbps * 1000 / 8 * seconds * share,
            peaks=peaks,
            highband=(envelopes.pop(k), hb_step) if analyzer is not None else None)
        writer.write_chunk(payload)
        state.slack = target - len(payload)

    # one worker thread codes chunk k (rate search, zstd: both release the GIL) while this
    # thread analyses chunk k + 1; the high band's analysis of each block runs in that worker
    # too, queued before the chunks that need it. At most two chunks and a few blocks wait
    # (memory stays flat), and a failure stops the encode within two chunks
    pending: deque[Future[None]] = deque()
    blocks_queued: deque[Future[None]] = deque()
    submitted = 0

    def queue(fn: Callable[..., None], *args: Any, into: deque[Future[None]],
              most: int) -> None:
        into.append(pool.submit(fn, *args))
        while len(into) > most:
            into.popleft().result()

    def envelope(block: np.ndarray) -> None:
        assert analyzer is not None
        envelopes.update(analyzer.feed(block) if len(block) else analyzer.finish())

    def analyse(block: np.ndarray) -> None:
        """The high band's envelopes, from the source at its own rate (always ahead of the
        model-rate chunks, which need 0.75 s more context)."""
        if analyzer is not None:
            queue(envelope, block, into=blocks_queued, most=MAX_QUEUED)

    def write(chunks: list[ChunkLatent]) -> None:
        nonlocal submitted
        for cl in chunks:
            queue(code, submitted, cl, into=pending, most=2)
            submitted += 1

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aecodec-code") as pool:
        try:
            seen = 0
            for block in blocks:
                block = block[:max(0, length - seen)]
                seen += len(block)
                if len(block):
                    mixed = _mix(block, stereo=stereo)
                    analyse(mixed[:, 0])
                    write(encoder.feed(resampler.feed(mixed)))
            if seen < length:  # the container said more frames than it delivered: pad
                pad = np.zeros((length - seen, channels), np.float32)
                write(encoder.feed(resampler.feed(_mix(pad, stereo=stereo))))
            analyse(np.zeros(0, np.float32))  # the source is complete
            write(encoder.feed(resampler.flush()))
            write(encoder.finish())
            for done in (blocks_queued, pending):
                while done:
                    done.popleft().result()
        finally:
            for f in (*blocks_queued, *pending):
                f.cancel()
    return writer.close()


def _mix(block: np.ndarray, *, stereo: bool) -> np.ndarray:
    """``[n, ch]`` -> ``[n, 1]`` mono mix-down, or ``[n, 3]`` (mid, left, right)."""
    if stereo:
        return np.column_stack([block.mean(axis=1), block[:, 0], block[:, 1]]).astype(np.float32)
    return mixdown(block)[:, None]


def encode_audio(audio: Audio, *, kbps: float = DEFAULT_KBPS, model: Model | None = None,
                 mono: bool = False, enhance: bool = True, coder: str | None = None,
                 peaks: int | None = None, stereo_kind: str = "image",
                 highband: bool = True) -> Encoded:
    """Encode in-memory audio; see :func:`encode_blocks` (``enhance=False``: base layer only,
    with exactly the quantizer steps a full encode would choose)."""
    buf = io.BytesIO()
    encode_blocks([audio.samples], buf, rate=audio.rate, channels=audio.channels,
                  length=audio.frames, kbps=kbps, model=model, mono=mono, enhance=enhance,
                  coder=coder, peaks=peaks, stereo_kind=stereo_kind, highband=highband)
    aec = container.unpack(buf.getvalue())
    return Encoded(meta=aec.meta, chunks=[c for c in aec.chunks if c is not None])
