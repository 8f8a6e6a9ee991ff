"""The codec pipeline: audio -> latent symbols -> ``.aec`` bytes, and back, chunk by chunk.

Encode: mix-down (mono, or mid + left/right for parametric stereo) -> block-wise resampling to
the model rate -> per chunk: ln|STFT| (1024/256) -> encoder -> uniform quantizer whose step is
chosen per chunk by rate control -> int8 symbols -> zstd -> container. Decode: the reverse, with
the decoder net predicting ln-magnitudes and Fast Griffin-Lim restoring phase (see
:mod:`aecodec.stream`). Memory is bounded by the chunk size, not the file length.
"""

from __future__ import annotations

import io
import math
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from . import ans, container, peakphase
from .audio import Audio
from .checkpoint import DEFAULT_MODEL_ID, find_weights, load_weights, model_dirs
from .dctcodec import _HEADER as DCT_HEADER
from .dctcodec import ZSTD_LEVEL as DCT_LEVEL
from .dctcodec import (
    _blocks,
    dct_blocks,
    decode_dct,
    encode_coefficients,
    quantize_coefficients,
    reconstruct,
)
from .errors import AecError, CorruptChunkError, FormatError, ModelError
from .meta import (  # noqa: F401 - re-exported for callers of the pipeline
    CODEC_NAME,
    ILD_META,
    MAX_KBPS,
    MAX_SECONDS,
    MIN_KBPS,
    model_rate_length,
    read_meta,
    validate_meta,
)
from .model import Autoencoder
from .payload import ILD, LATENT, PHASE, RESIDUAL, encode_stream, pack_payload, unpack_payload
from .phase import DEFAULT_MOMENTUM
from .quantize import SYMBOL_MAX, quantize
from .resampler import StreamResampler
from .stereo import BANDS, ILD_FRAMES, ILD_STEP_DB
from .stream import ChunkDecoder, ChunkEncoder, ChunkLatent, ChunkSymbols, Layout

CHUNK_FRAMES = 128
"""Latent frames per container chunk (128 x 4 x 256 / 22050 Hz = 5.94 s)."""
LADDER = (3.0, 6.0, 12.0)
"""Named operating points in kbps; any value in [MIN_KBPS, MAX_KBPS] is accepted."""
DEFAULT_KBPS = 6.0
DEFAULT_MODELS: tuple[tuple[float, str], ...] = ((math.inf, DEFAULT_MODEL_ID),)
"""``(up to kbps, model id)``: which shipped model codes which bitrates by default."""
STEP_MIN, STEP_MAX = 0.08, 2.0
"""Quantizer steps rate control may choose: the range the decoder was trained on."""
RATE_SEARCH_ITERS = 10
SEARCH_LEVEL = 12
"""zstd level of the base layer's rate search (the chosen step is then coded at level 19):
on latent symbols level 12 is within 1 % of level 19 in size and 10x faster."""
BASE_KBPS = 0.5
"""Bits a chunk's latent may take before the rest go to the DCT-coded residual layer (the
latent never goes coarser than ``STEP_MAX``, which on music lands near 0.4-0.5 kbps).
Measured on 5 held-out clips, base 1.5 -> 0.5 kbps: at 1.5 kbps ln-STFT / multi-res / mel
1.105 / 0.300 / 0.225 -> 1.027 / 0.277 / 0.183, at 6 kbps 0.861 / 0.237 / 0.116 -> 0.852 /
0.235 / 0.114, at 12 kbps level; genre accuracy from the latent 0.78 -> 0.83 (18 tracks)."""
MIN_RESIDUAL_BYTES = 48


@dataclass(frozen=True)
class Encoded:
    """An encoded file: container metadata and chunk payloads."""

    meta: dict[str, Any]
    chunks: list[bytes]

    def to_bytes(self) -> bytes:
        return container.pack(self.meta, self.chunks)

    @property
    def nbytes(self) -> int:
        return len(self.to_bytes())


Model = tuple[Autoencoder, dict[str, Any]]


@lru_cache(maxsize=4)
def _load_cached(path: Path, mtime: float) -> Model:
    return load_weights(path)


def load_model(model_id: str = DEFAULT_MODEL_ID, sha_prefix: str = "", *,
               path: Path | None = None) -> Model:
    """The model for ``model_id`` (or the weights file ``path``), cached per file.

    With ``sha_prefix``, the weights' sha256 must start with it (a ``.aec`` file names the exact
    weights it was made with).
    """
    if path is None:
        path = find_weights(model_id, sha_prefix=sha_prefix[:12])
    path = Path(path).resolve()
    model, meta = _load_cached(path, path.stat().st_mtime if path.exists() else 0.0)
    if sha_prefix and not meta["sha256"].startswith(sha_prefix):
        raise ModelError(f"model {model_id}: weights sha256 {meta['sha256'][:12]} != {sha_prefix}")
    return model, meta


def default_model(kbps: float) -> Model:
    """The shipped model for a target bitrate (see ``DEFAULT_MODELS``)."""
    for limit, model_id in DEFAULT_MODELS:
        if kbps <= limit:
            return load_model(model_id)
    return load_model(DEFAULT_MODELS[-1][1])


def tables_for(model: Model) -> ans.Tables | None:
    """The entropy tables fitted for ``model``'s weights (None: the model has none)."""
    return ans.find_tables(model_sha=model[1]["sha256"], dirs=model_dirs())


def make_meta(model: Model, *, rate: int, channels: int, length: int, stereo: bool,
              coder: str = "zstd", peaks: int = 0) -> dict[str, Any]:
    """Container metadata for a file (see docs/format.md)."""
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
    if stereo:
        meta["stereo"] = "ild"
        meta["ild"] = dict(ILD_META)
    if peaks:
        meta["phase"] = peakphase.meta_for(peaks)
    return meta


def layout_of(meta: dict[str, Any], net: Autoencoder) -> Layout:
    return Layout(samples=model_rate_length(meta), hop=meta["hop"], n_fft=meta["n_fft"],
                  down=net.cfg.down, chunk_frames=meta["chunk_frames"])


def step_range(model: Model) -> tuple[float, float]:
    """Quantizer steps the model's decoder was trained on (``STEP_MIN..STEP_MAX`` if unknown)."""
    train = model[1].get("info", {}).get("train", {})
    return float(train.get("step_min", STEP_MIN)), float(train.get("step_max", STEP_MAX))


def _base_logmag(cl: ChunkLatent, net: Autoencoder, step: float) -> np.ndarray:
    """What the decoder will make of the chunk's quantized latent: ``[bins, f1 - f0]``."""
    assert cl.context is not None and cl.target is not None
    z = quantize(torch.from_numpy(cl.context)[None], step=step).float() * step
    with torch.inference_mode():
        out = net.decode(z, step=step)[0]
    f = cl.first * net.cfg.down
    return out[:, f:f + cl.target.shape[1]].numpy()


def _fit(size: Callable[[float], float], budget: float, *, lo: float, hi: float,
         start: float) -> float | None:
    """The finest ``x`` in ``[lo, hi]`` whose ``size(x)`` (decreasing in ``x``) fits ``budget``
    bytes, stopping within 3 % under it; None if even ``hi`` does not fit.

    Secant steps on ``log size`` against ``log x`` inside a shrinking bracket (bisection when a
    step would leave it), starting at ``start`` with slope -1: 3-4 evaluations where bisection
    took 8-10."""
    a, b = math.log(lo), math.log(hi)  # a: finest end (too big), b: coarsest end (fits)
    fa = fb = math.nan  # log sizes at a, b where measured
    best: float | None = None
    mid = min(max(math.log(start), a), b)
    target = math.log(budget * 0.985) if budget > 0 else -math.inf
    coarsest_tried = False
    for _ in range(RATE_SEARCH_ITERS + 2):
        x = float(np.float32(math.exp(mid)))
        n = size(x)
        coarsest_tried |= mid >= b
        fm = math.log(n) if 0 < n < math.inf else (math.inf if n > 0 else -math.inf)
        if n > budget:
            if mid >= b:  # not even the coarsest fits
                return None
            a, fa = mid, fm
        else:
            b, fb, best = mid, fm, x
            if n >= 0.97 * budget:
                break
        if b - a < 0.01:
            break
        if math.isfinite(fa) and math.isfinite(fb) and fa > fb:
            guess = a + (fa - target) * (b - a) / (fa - fb)  # secant inside the bracket
        elif math.isfinite(fm) and math.isfinite(target):
            guess = mid + (fm - target)  # slope -1 from the one point known
        else:
            guess = (a + b) / 2
        span = b - a
        mid = guess if a + 0.01 * span < guess < b - 0.01 * span else (a + b) / 2
        if not math.isfinite(fb) and guess >= b:  # coarser than anything tried: the end
            mid = b
    if best is None and not coarsest_tried:
        x = float(np.float32(hi))
        best = x if size(x) <= budget else None
    return best


def _fit_grid(size: Callable[[int], float], budget: float, *, lo: int, hi: int,
              start: int) -> int | None:
    """The finest grid index ``j`` in ``[lo, hi]`` (:mod:`aecodec.ans` steps ``2 ** (j / 16)``)
    whose ``size(j)`` (decreasing in ``j``) fits ``budget``; None if even ``hi`` does not.

    Newton steps on ``log size`` (slope measured, first -ln 2 / 16 per index: size ~ 1 / step)
    inside the bracket of indices known to fit and not to fit: 2-3 evaluations a chunk when the
    start comes from the previous chunk."""
    if not budget > 0:  # e.g. a last chunk of one frame that holds no new samples
        return None
    good, bad = hi + 1, lo - 1  # finest index known to fit, coarsest known not to
    slope = -math.log(2) / 16
    j, last = min(max(start, lo), hi), None
    while good - bad > 1:
        n = size(j)
        if n <= budget:
            good = j
        else:
            bad = j
            if j >= hi:
                return None
        if good - bad <= 1:
            break
        if not math.isfinite(n):  # cannot be coded at this index at all: bisect
            j = (bad + good) // 2 if good <= hi else min(bad + 8, hi)
            continue
        fj = math.log(max(n, 1e-9))
        if last is not None and last[0] != j:
            measured = (fj - last[1]) / (j - last[0])
            if measured < 0:
                slope = measured
        last = (j, fj)
        guess = j + math.floor((math.log(budget * 0.99) - fj) / slope + 0.5)
        if n <= budget and guess >= j:
            guess = j - 1  # fits: always try one finer
        if not bad < guess < good:
            guess = (bad + good) // 2 if good <= hi else min(max(guess, bad + 1), hi)
        j = guess
    return good if good <= hi else None


def chunk_payload(cl: ChunkLatent, *, target_bytes: float, start_step: float | None = None,
                  steps: tuple[float, float] = (STEP_MIN, STEP_MAX),
                  net: Autoencoder | None = None, base_bytes: float | None = None,
                  memory: dict[str, float] | None = None,
                  tables: ans.Tables | None = None, peaks: int = 0) -> tuple[bytes, float]:
    """Code one chunk in at most ``target_bytes`` (when reachable). Returns (payload, step).

    Base layer: the latent at the finest step (within ``steps``, never clamping symbols) that
    fits ``base_bytes`` (default: all of ``target_bytes``). Enhancement layer, when ``net`` is
    given and bytes remain: the ln-magnitude residual between the chunk and what the decoder
    makes of the base layer, DCT-coded (:mod:`aecodec.dctcodec`) at the finest scale that fits.
    The ILD stream, if any, is coded as is. ``memory`` carries the last residual scale from
    chunk to chunk, so each search starts near its answer. ``tables``: code with
    :mod:`aecodec.ans` (steps and scales on its grid) instead of zstd. ``peaks``: add the
    peak-phase layer (:mod:`aecodec.peakphase`) with that many peaks a frame after the
    residual, its size estimated from the previous chunk's and reserved before the residual's
    search.
    """
    memory = memory if memory is not None else {}
    extra = [(ILD, ILD_STEP_DB, encode_stream(cl.ild))] if cl.ild is not None else []
    budget = min(target_bytes, base_bytes) if base_bytes is not None else target_bytes
    # never finer than the step at which the largest value still fits an int8 symbol: clamped
    # symbols cost quality (measured: l1 0.57 -> 1.24 on rock at step 0.08) and save nothing
    finest = min(max(steps[0], float(np.abs(cl.latent).max()) / SYMBOL_MAX * 1.001), steps[1])
    if tables is None:
        streams, step = _zstd_base(cl, extra, budget, lo=finest, hi=steps[1],
                                   start=start_step or 0.3)
    else:
        streams, step = _ans_base(cl, extra, budget, tables, lo=finest, hi=steps[1],
                                  start=start_step or 0.3)
    payload = pack_payload(streams)
    room = target_bytes - len(payload) - 9
    peaks = peaks if cl.phase is not None else 0
    frames = cl.target.shape[1] if cl.target is not None else 0
    reserve = 9 + memory.get("phase_bytes_per_frame", 0.25 * peaks) * frames if peaks else 0
    if net is None or cl.target is None or room - reserve < MIN_RESIDUAL_BYTES:
        return payload, step
    base = _base_logmag(cl, net, step)
    resid = cl.target - base
    coefs = dct_blocks(resid)  # once: the search below only re-quantizes
    layer = (_zstd_residual(coefs, resid.shape, room - reserve, memory) if tables is None
             else _ans_residual(coefs, resid.shape, room - reserve, memory, tables))
    if layer is None:
        return payload, step
    scale, data, decoded = layer
    streams = [*streams, (RESIDUAL, scale, data)]
    if peaks and cl.phase is not None:
        st = net.cfg.stft
        sent = peakphase.encode_phases(base + decoded(), cl.phase, count=peaks, hop=st.hop,
                                       n_fft=st.n_fft)
        memory["phase_bytes_per_frame"] = len(sent) / max(frames, 1)
        streams.append((PHASE, peakphase.QUANT, sent))
    return pack_payload(streams), step


Streams = list[tuple[int, float, bytes]]


def _zstd_base(cl: ChunkLatent, extra: Streams, budget: float, *, lo: float, hi: float,
               start: float) -> tuple[Streams, float]:
    latent = torch.from_numpy(cl.latent)[None]
    coded: dict[float, Streams] = {}  # step -> base-layer streams

    def base(step: float, level: int = SEARCH_LEVEL) -> bytes:
        symbols = quantize(latent, step=step)[0].numpy()
        coded[step] = [(LATENT, step, encode_stream(symbols, level=level)), *extra]
        return pack_payload(coded[step])

    found = _fit(lambda x: len(base(x)), budget, lo=lo, hi=hi, start=start)
    step = found if found is not None else hi
    if step not in coded:
        base(step)
    searched = coded[step]
    base(step, level=19)  # the search ran at a faster level: keep the smaller frame
    if len(pack_payload(searched)) < len(pack_payload(coded[step])):
        coded[step] = searched
    return coded[step], step


def _ans_base(cl: ChunkLatent, extra: Streams, budget: float, tables: ans.Tables, *,
              lo: float, hi: float, start: float) -> tuple[Streams, float]:
    latent = torch.from_numpy(cl.latent)[None]
    fixed = len(pack_payload(extra)) + 9 + 4  # stream header + ANS flush word

    def size(j: int) -> float:
        symbols = quantize(latent, step=ans.grid_step(j))[0].numpy()
        return fixed + ans.latent_bits(symbols, tables, j) / 8

    j_lo = ans.grid_index(ans.snap_up(lo))  # never finer than lo: symbols would clamp
    j_hi = max(math.floor(ans.GRID * math.log2(hi) + 1e-6), j_lo)
    found = _fit_grid(size, budget, lo=j_lo, hi=j_hi, start=ans.grid_index(ans.snap_up(start)))
    step = ans.grid_step(found if found is not None else j_hi)
    symbols = quantize(latent, step=step)[0].numpy()
    return [(LATENT, step, ans.encode_latent(symbols, tables, ans.grid_index(step))), *extra], step


Residual = tuple[float, bytes, Callable[[], np.ndarray]]
"""A residual layer: scale, stream, and what it decodes to (computed on demand: only the
peak-phase layer needs it)."""


def _zstd_residual(coefs: np.ndarray, shape: tuple[int, int], room: float,
                   memory: dict[str, float]) -> Residual | None:
    """The finest residual layer within ``room`` bytes (see :data:`Residual`)."""
    def code(scale: float, level: int = DCT_LEVEL) -> bytes:
        return encode_coefficients(coefs, shape=shape, scale=scale, level=level, narrow=True)

    try:
        # search with fast zstd (level 3), then code the chosen scale once at level 19. The
        # size ratio of the two levels is carried from chunk to chunk (measured on the first),
        # so one level-19 compression per chunk is the rule (profiled: level 19 took 40 % of
        # the encode when the search ran it at every step)
        start = memory.get("scale", 1.0)
        ratio = memory.get("ratio") or len(code(start)) / len(code(start, 3))
        for _ in range(2):  # a second search only when the carried ratio missed by > 10 %
            found = _fit(lambda x: len(code(x, 3)), room / ratio, lo=0.02, hi=50.0, start=start)
            if found is None:
                return None
            scale = found
            final = code(scale)
            ratio = len(final) / len(code(scale, 3))
            if 0.9 * room <= len(final) <= room:
                break
        memory["ratio"] = ratio
        for _ in range(3):  # the ratio drifted up: coarser until it fits
            if len(final) <= room:
                break
            scale = float(np.float32(scale * (len(final) / room) ** 1.2 * 1.02))
            final = code(scale)
        if len(final) > room:
            return None
        memory["scale"] = scale
    except ValueError:  # a scale too fine for 16-bit coefficients: no enhancement layer
        return None
    return scale, final, partial(decode_dct, final)


def _ans_residual(coefs: np.ndarray, shape: tuple[int, int], room: float,
                  memory: dict[str, float],
                  tables: ans.Tables) -> Residual | None:
    """As :func:`_zstd_residual`, coded with :mod:`aecodec.ans` on its scale grid."""
    unit = quantize_coefficients(coefs, scale=1.0, exact=False).astype(np.float32)
    peak = float(np.abs(unit).max())

    def size(j: int) -> float:
        scale = ans.grid_step(j)
        if peak / scale > ans.SPAN + 0.5:
            return math.inf
        q = np.rint(unit / np.float32(scale)).astype(np.int32)
        return 4 + ans.residual_bits(q, tables, j) / 8

    start = ans.grid_index(ans.snap_up(memory.get("scale", 1.0)))
    found = _fit_grid(size, room, lo=ans.grid_index(ans.snap_up(0.02)), hi=ans.grid_index(
        ans.snap_up(50.0)), start=start)
    if found is None:
        return None
    j = found
    for _ in range(4):  # the estimate is within a word or two: coarser until it fits
        q = np.rint(unit / np.float32(ans.grid_step(j))).astype(np.int32)
        if np.abs(q).max() <= ans.SPAN:
            data = ans.encode_residual(q, tables, j)
            if len(data) <= room:
                scale = ans.grid_step(j)
                memory["scale"] = scale
                return scale, data, partial(reconstruct, q.astype(np.int64), shape=shape,
                                            scale=scale)
        j += 1
    return None


def encode_blocks(blocks: Iterable[np.ndarray], out: IO[bytes], *, rate: int, channels: int,
                  length: int, kbps: float = DEFAULT_KBPS, model: Model | None = None,
                  mono: bool = False, base_kbps: float = BASE_KBPS, enhance: bool = True,
                  coder: str | None = None, peaks: int | None = None) -> int:
    """Encode float32 ``[n, channels]`` blocks (``length`` frames in all) into ``out``.

    Two channels are coded as parametric stereo unless ``mono``; other counts as a mono
    mix-down. Each chunk's quantizer step is chosen so the whole file, header included, lands
    on ``kbps`` (actual bits / duration). ``coder``: ``"zstd"``, ``"ans"`` (the model's
    :mod:`aecodec.ans` tables; :class:`ModelError` if it has none) or None (``"ans"`` when
    the model has tables, else ``"zstd"``). ``peaks``: peaks a frame of the peak-phase layer
    (:mod:`aecodec.peakphase`; 0: none; None: ``peakphase.peaks_for(kbps)``, with the
    enhancement layer only). Returns the bytes written.
    """
    if not MIN_KBPS <= kbps <= MAX_KBPS:
        raise AecError(f"bitrate {kbps:g} kbps is outside {MIN_KBPS:g}..{MAX_KBPS:g}")
    model = model or default_model(kbps)
    net = model[0]
    stereo = channels == 2 and not mono
    tables = tables_for(model) if coder != "zstd" else None
    if coder == "ans" and tables is None:
        raise ModelError(f"model {model[1]['model_id']} has no entropy tables (coder 'ans')")
    if coder not in (None, "zstd", "ans"):
        raise ValueError(f"encode_blocks() called with coder={coder!r}")
    peaks = (peakphase.peaks_for(kbps) if peaks is None else peaks) if enhance else 0
    if not 0 <= peaks <= peakphase.MAX_PEAKS:
        raise ValueError(f"encode_blocks() called with peaks={peaks}")
    meta = make_meta(model, rate=rate, channels=channels, length=length, stereo=stereo,
                     coder=f"ans-{tables.sha256[:ans.HASH_CHARS]}" if tables else "zstd",
                     peaks=peaks)
    lay = layout_of(meta, net)
    steps = step_range(model)
    seconds = length / rate
    overhead = 12 + len(container.encode_meta(meta)) + 8 + 8 * lay.chunks
    budget = kbps * 1000 / 8 * seconds - overhead
    resampler = StreamResampler(orig_rate=rate, new_rate=net.cfg.stft.rate)
    encoder = ChunkEncoder(net, lay, keep_phase=peaks > 0)
    writer = container.AecWriter(out, meta)
    done, last_step = [0], [0.0]
    memory: dict[str, float] = {}

    def code(cl: ChunkLatent) -> None:
        f0, f1 = lay.core(done[0])
        share = (min(f1 * lay.hop, lay.samples) - f0 * lay.hop) / lay.samples
        # bytes a chunk left unspent (or overspent) go to the next one, so the file lands on
        # its rate
        carry = min(max(memory.get("slack", 0.0), -0.25 * budget * share), 0.5 * budget * share)
        target = budget * share + carry
        payload, last_step[0] = chunk_payload(
            cl, target_bytes=target, start_step=last_step[0] or None, steps=steps,
            net=net if enhance else None,
            base_bytes=base_kbps * 1000 / 8 * seconds * share, memory=memory, tables=tables,
            peaks=peaks)
        writer.write_chunk(payload)
        memory["slack"] = target - len(payload)
        done[0] += 1

    # one worker thread codes chunk k (rate search, zstd: both release the GIL) while this
    # thread analyses chunk k + 1; at most two chunks wait, so memory stays flat
    pending: deque[Future[None]] = deque()

    def write(chunks: list[ChunkLatent]) -> None:
        for cl in chunks:
            pending.append(pool.submit(code, cl))
            while len(pending) > 2:
                pending.popleft().result()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aecodec-code") as pool:
        try:
            seen = 0
            for block in blocks:
                block = block[:max(0, length - seen)]
                seen += len(block)
                if len(block):
                    write(encoder.feed(resampler.feed(_mix(block, stereo=stereo))))
            if seen < length:  # the container said more frames than it delivered: pad
                pad = np.zeros((length - seen, channels), np.float32)
                write(encoder.feed(resampler.feed(_mix(pad, stereo=stereo))))
            write(encoder.feed(resampler.flush()))
            write(encoder.finish())
            while pending:
                pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
    return writer.close()


def _mix(block: np.ndarray, *, stereo: bool) -> np.ndarray:
    """``[n, ch]`` -> ``[n, 1]`` mono mean, or ``[n, 3]`` (mid, left, right)."""
    if stereo:
        return np.column_stack([block.mean(axis=1), block[:, 0], block[:, 1]]).astype(np.float32)
    return block.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)


def encode_audio(audio: Audio, *, kbps: float = DEFAULT_KBPS, model: Model | None = None,
                 mono: bool = False, enhance: bool = True, coder: str | None = None,
                 peaks: int | None = None) -> Encoded:
    """Encode in-memory audio; see :func:`encode_blocks` (``enhance=False``: base layer only,
    with exactly the quantizer steps a full encode would choose)."""
    buf = io.BytesIO()
    encode_blocks([audio.samples], buf, rate=audio.rate, channels=audio.channels,
                  length=audio.frames, kbps=kbps, model=model, mono=mono, enhance=enhance,
                  coder=coder, peaks=peaks)
    aec = container.unpack(buf.getvalue())
    return Encoded(meta=aec.meta, chunks=[c for c in aec.chunks if c is not None])


def model_for(meta: dict[str, Any], *, name: str, model_path: Path | None = None) -> Autoencoder:
    """The model a validated file names, checked against the file's settings."""
    net, mmeta = load_model(meta["model"]["id"], meta["model"]["sha256"], path=model_path)
    if mmeta["model_id"] != meta["model"]["id"]:
        raise ModelError(f"{name}: needs model {meta['model']['id']}, got {mmeta['model_id']}")
    st = net.cfg.stft
    if (meta["model_rate"], meta["n_fft"], meta["hop"]) != (st.rate, st.n_fft, st.hop) or \
            meta["latent"] != [net.cfg.latent, -(-meta["frames"] // net.cfg.down)]:
        raise ModelError(f"{name}: STFT/latent settings do not match model {meta['model']['id']}")
    return net


def _residual(raw: bytes, *, shape: tuple[int, int], name: str) -> np.ndarray:
    """Decode an enhancement-layer stream whose header must announce exactly ``shape``."""
    if len(raw) < DCT_HEADER.size:
        raise FormatError(f"{name}: residual stream truncated")
    _, _, _, freq, frames, scale = DCT_HEADER.unpack_from(raw)
    if (freq, frames) != shape or not (math.isfinite(scale) and scale > 0):
        raise FormatError(f"{name}: residual stream of shape {(freq, frames)} scale {scale!r}, "
                          f"expected {shape}")
    try:
        return decode_dct(raw)
    except FormatError as exc:
        raise FormatError(f"{name}: {exc}") from None


def coder_tables(meta: dict[str, Any], *, name: str) -> ans.Tables | None:
    """The entropy tables a validated file's ``coder`` names (None for ``"zstd"``)."""
    coder = meta["coder"]
    if coder == "zstd":
        return None
    try:
        return ans.tables_by_sha(coder.removeprefix("ans-"), dirs=model_dirs())
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}") from None


def _grid(step: float, *, name: str) -> int:
    j = ans.grid_index(step)
    if abs(ans.grid_step(j) - step) > 1e-6 * step:
        raise FormatError(f"{name}: step {step!r} is not on the entropy coder's grid")
    return j


def chunk_symbols(payload: bytes | None, k: int, *, meta: dict[str, Any], lay: Layout,
                  name: str, tables: ans.Tables | None = None) -> ChunkSymbols:
    """Parse chunk ``k`` (``None``: damaged, decoded as silence-like zeros). ``tables``: those
    of the file's ``ans`` coder (:func:`coder_tables`)."""
    f0, f1 = lay.core(k)
    width = -(-(f1 - f0) // lay.down)
    channels = meta["latent"][0]
    stereo = meta["stereo"] == "ild"
    ild_width = -(-(f1 - f0) // ILD_FRAMES)
    if payload is None:
        return ChunkSymbols(k, np.full((channels, width), 0, np.float32), STEP_MAX,
                            np.zeros((BANDS, ild_width), np.int8) if stereo else None)
    if meta["coder"] != "zstd" and tables is None:
        raise ValueError("chunk_symbols() needs the tables of an ans-coded file")
    shapes = {LATENT: (channels, width), **({ILD: (BANDS, ild_width)} if stereo else {})}
    label = f"{name}: chunk {k + 1} of {lay.chunks}"
    streams = unpack_payload(payload, shapes=shapes, name=label, raw_latent=tables is not None)
    step, symbols = streams[LATENT]
    if tables is not None:
        assert isinstance(symbols, bytes)
        symbols = ans.decode_latent(symbols, tables, _grid(step, name=label),
                                    shape=(channels, width), name=label)
    assert isinstance(symbols, np.ndarray)
    ild = streams[ILD][1] if stereo else None
    residual = None
    if RESIDUAL in streams:
        scale, raw = streams[RESIDUAL]
        assert isinstance(raw, bytes)
        shape = (lay.n_fft // 2 + 1, f1 - f0)
        if tables is None:
            residual = _residual(raw, shape=shape, name=label)
        else:
            ints = ans.decode_residual(raw, tables, _grid(scale, name=label),
                                       blocks=_blocks(shape), name=label)
            residual = reconstruct(ints, shape=shape, scale=scale)
    phase = None
    if PHASE in streams:
        if "phase" not in meta:
            raise FormatError(f"{label}: a peak-phase stream in a file without the layer")
        raw = streams[PHASE][1]
        assert isinstance(raw, bytes)
        phase = peakphase.parse_symbols(raw, frames=f1 - f0, count=meta["phase"]["peaks"],
                                        name=label)
    return ChunkSymbols(k, symbols.astype(np.float32) * step, step,
                        ild if isinstance(ild, np.ndarray) else None, residual, phase)


def decode_to(f: IO[bytes], sink: Callable[[np.ndarray], None], *, name: str = "<stream>",
              rate: int | None = None, start: float = 0.0, duration: float | None = None,
              iters: int | None = None, momentum: float = DEFAULT_MOMENTUM, seed: int = 0,
              ignore_errors: bool = False, model_path: Path | None = None) -> dict[str, Any]:
    """Decode a seekable ``.aec`` stream chunk by chunk, passing ``[n, channels]`` float32
    blocks to ``sink``. ``start``/``duration`` (seconds) decode only the chunks needed.

    Returns ``{"rate", "channels", "frames", "damaged"}`` of what was written.
    """
    meta, index = container.scan_chunks(f, name=name)
    validate_meta(meta, name=name)
    net = model_for(meta, name=name, model_path=model_path)
    lay = layout_of(meta, net)
    if len(index) != lay.chunks:
        raise FormatError(f"{name}: holds {len(index)} chunks, metadata implies {lay.chunks}")
    out_rate = rate or meta["rate"]
    total = round(meta["length"] * out_rate / meta["rate"])
    first_out = min(total, max(0, round(start * out_rate)))
    last_out = total if duration is None else min(total, first_out + round(duration * out_rate))
    mr = meta["model_rate"]
    k0 = max(0, int(first_out / out_rate * mr) // lay.hop // lay.seg - 1)  # one warm-up chunk
    k1 = min(lay.chunks, math.ceil(last_out / out_rate * mr / lay.hop / lay.seg) + 1)
    stereo = meta["stereo"] == "ild"
    out_ch = 2 if stereo else meta["channels"]
    tables = coder_tables(meta, name=name)
    decoder = ChunkDecoder(net, lay, stereo=stereo, iters=iters, momentum=momentum, seed=seed)
    resampler = StreamResampler(orig_rate=mr, new_rate=out_rate)
    run_start = lay.core(k0)[0] * lay.hop  # model-rate sample where decoded audio begins
    aligned = -(-run_start // resampler.down) * resampler.down
    skip_in = aligned - run_start
    pos = [aligned * resampler.up // resampler.down]  # absolute output index of next sample
    damaged = 0

    def put(y: np.ndarray) -> None:
        nonlocal skip_in
        if skip_in:
            cut = min(skip_in, len(y))
            y, skip_in = y[cut:], skip_in - cut
        out = resampler.feed(y) if len(y) else y
        emit(out)

    def emit(out: np.ndarray) -> None:
        a, b = pos[0], pos[0] + len(out)
        pos[0] = b
        lo, hi = max(a, first_out), min(b, last_out)
        if hi > lo:
            part = out[lo - a:hi - a]
            sink(np.repeat(part, out_ch, axis=1) if part.shape[1] != out_ch else part)

    for k in range(k0, k1):
        try:
            payload: bytes | None = container.read_chunk(f, index[k], name=name, position=k,
                                                          count=len(index))
        except CorruptChunkError:
            if not ignore_errors:
                raise
            payload, damaged = None, damaged + 1
        for y in decoder.push(chunk_symbols(payload, k, meta=meta, lay=lay, name=name,
                                            tables=tables)):
            put(y)
    for y in decoder.finish():
        put(y)
    emit(resampler.flush())
    if pos[0] < last_out:  # rounding: pad the last few samples
        emit(np.zeros((last_out - pos[0], 1 if not stereo else 2), np.float32))
    return {"rate": out_rate, "channels": out_ch, "frames": last_out - first_out,
            "damaged": damaged}


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


def _parse_file(aec: container.AecFile, *, name: str,
                net: Autoencoder) -> tuple[Layout, list[ChunkSymbols]]:
    """Every chunk of a validated, parsed file (entropy-decoded once), with its layout."""
    lay = layout_of(aec.meta, net)
    if len(aec.chunks) != lay.chunks:
        raise FormatError(f"{name}: holds {len(aec.chunks)} chunks, metadata implies {lay.chunks}")
    tables = coder_tables(aec.meta, name=name)
    return lay, [chunk_symbols(c, k, meta=aec.meta, lay=lay, name=name, tables=tables)
                 for k, c in enumerate(aec.chunks)]


def _latent_of(chunks: list[ChunkSymbols]) -> tuple[np.ndarray, np.ndarray]:
    latent = np.concatenate([c.latent for c in chunks], axis=1)
    steps = np.concatenate([np.full(c.latent.shape[1], c.step, np.float32) for c in chunks])
    return latent, steps


def decode_latent(aec: container.AecFile, *, name: str = "<stream>",
                  net: Autoencoder | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The DEQUANTIZED latent of a whole parsed file, ``[C, Tl]`` float32, and the quantizer
    step of every latent frame ``[Tl]`` (steps differ per chunk). Damaged chunks (``None``)
    come back as zeros."""
    validate_meta(aec.meta, name=name)
    net = net or model_for(aec.meta, name=name)
    return _latent_of(_parse_file(aec, name=name, net=net)[1])


def decode_logmag(data: bytes, *, name: str = "<stream>",
                  model_path: Path | None = None) -> torch.Tensor:
    """The decoded ln-magnitudes (decoder net + enhancement layer) of the mid signal for a whole
    file, ``[1, bins, frames]`` (for diagnostics: no Griffin-Lim)."""
    aec = container.unpack(data, name=name)
    validate_meta(aec.meta, name=name)
    net = model_for(aec.meta, name=name, model_path=model_path)
    lay, chunks = _parse_file(aec, name=name, net=net)
    latent, steps = _latent_of(chunks)
    with torch.inference_mode():
        out = net.decode(torch.from_numpy(latent)[None], step=torch.from_numpy(steps)[None, None],
                         frames=aec.meta["frames"])
    out = out.clone()  # a normal tensor: the residual is added in place below
    for k, chunk in enumerate(chunks):  # the enhancement layer, where present
        if chunk.residual is not None:
            f0, f1 = lay.core(k)
            out[0, :, f0:f1] += torch.from_numpy(chunk.residual)
    return out


def read_file(path: Path, *, ignore_errors: bool = False) -> container.AecFile:
    """Parse and validate a whole ``.aec`` file (one-line :class:`FormatError` on any problem)."""
    read_meta(path)
    with open(path, "rb") as f:
        aec = container.read_aec(f, name=str(path), ignore_errors=ignore_errors)
    return aec
