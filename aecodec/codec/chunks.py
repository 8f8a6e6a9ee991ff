"""Chunk-by-chunk encoding and decoding with memory bounded by the chunk size.

Chunk ``k`` covers STFT frames ``[k * S, min((k + 1) * S, F))`` with ``S = chunk_frames * down``
(512 frames = 5.94 s). Every chunk is computed from an excerpt with ``CTX_FRAMES`` of context
on each side, more than the networks' receptive fields, so chunked encoding gives the same latent
as encoding the whole file at once. Decoding runs Fast Griffin-Lim per chunk on the chunk plus
``GL_RIGHT`` look-ahead frames, with the first ``GL_LEFT`` frames' phase pinned to the previous
chunk's result, and cross-fades ``XFADE`` samples at each seam, so seams are not measurable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from aecodec.coding.peakphase import phases_from_symbols
from aecodec.coding.stereo import ILD_FRAMES, channel_gains, ild_symbols
from aecodec.coding.stereo_image import channel_spectra, encode_chunk
from aecodec.dsp import workers
from aecodec.dsp.np_griffinlim import griffin_lim
from aecodec.dsp.np_spectral import (
    DEFAULT_MOMENTUM,
    istft,
    log_abs,
    magnitude_from_log,
    random_phase,
    stft,
)
from aecodec.format.meta import model_rate_length
from aecodec.model.np_nets import Net
from aecodec.model.np_phaseinit import initial_phase

CTX_FRAMES = 64
"""STFT frames of context on each side of a chunk (a multiple of the latent downsampling)."""
GL_LEFT, GL_RIGHT = 8, 8
XFADE = 1024
MAX_DEFAULT_ITERS = 16
"""Fast Griffin-Lim iterations a decoder runs unless told (``--iters``): the model's own count,
at most this. 16 instead of 32 halves the decoder's main cost and moves no quality measure by
more than 0.002 on the held-out clips (``docs/benchmarks.md``, "Speed")."""


class Layout(NamedTuple):
    """Frame/sample bookkeeping of one file at the model rate."""

    samples: int  # mono samples at the model rate
    hop: int
    n_fft: int
    down: int
    chunk_frames: int  # latent frames per chunk

    @property
    def frames(self) -> int:
        return self.samples // self.hop + 1

    @property
    def latent_frames(self) -> int:
        return -(-self.frames // self.down)

    @property
    def seg(self) -> int:
        return self.chunk_frames * self.down

    @property
    def chunks(self) -> int:
        return -(-self.frames // self.seg)

    def core(self, k: int) -> tuple[int, int]:
        """STFT frames ``[f0, f1)`` of chunk ``k``."""
        return k * self.seg, min((k + 1) * self.seg, self.frames)

    def needed(self, k: int) -> int:
        """Model-rate samples that must be available to encode chunk ``k``."""
        return min(self.samples, (self.core(k)[1] + CTX_FRAMES) * self.hop + self.n_fft // 2)


def layout_of(meta: dict[str, Any], *, down: int) -> Layout:
    """The layout of a file from its (validated) metadata and the model's latent downsampling."""
    return Layout(samples=model_rate_length(meta), hop=meta["hop"], n_fft=meta["n_fft"],
                  down=down, chunk_frames=meta["chunk_frames"])


class ChunkLatent(NamedTuple):
    latent: np.ndarray  # float32 [C, W]
    ild: np.ndarray | None  # int8 [bands, ceil(frames / ILD_FRAMES)] for parametric stereo
    context: np.ndarray | None = None  # float32 [C, Tx]: the latent of the whole excerpt
    first: int = 0  # index of the chunk's first latent frame in ``context``
    target: np.ndarray | None = None  # float32 [bins, f1 - f0]: the true ln-magnitudes
    phase: np.ndarray | None = None  # float32 [bins, f1 - f0]: true phase (mid; keep_phase)
    image: tuple[np.ndarray, np.ndarray] | None = None  # stereo image symbols (ILD, ICC)


class ChunkEncoder:
    """Feed model-rate samples ``[n, 1]`` (mono) or ``[n, 3]`` (mid, left, right); collect
    :class:`ChunkLatent` for every chunk whose samples (with context) are complete."""

    def __init__(self, net: Net, layout: Layout, *, keep_phase: bool = False,
                 image_slot: int | None = None) -> None:
        self.net, self.lay = net, layout
        self.keep_phase = keep_phase  # ChunkLatent.phase: only the peak-phase layer needs it
        self.image_slot = image_slot  # stereo input: the stereo image's slot (None: ILD)
        self._buf = np.zeros((0, 0), np.float32)
        self._start = 0  # absolute index of self._buf[0]
        self._have = 0
        self._next = 0  # next chunk to emit

    def feed(self, block: np.ndarray) -> list[ChunkLatent]:
        self._buf = block if self._buf.size == 0 else np.concatenate([self._buf, block])
        self._have += len(block)
        out = []
        while self._next < self.lay.chunks and self._have >= self.lay.needed(self._next):
            out.append(self._encode(self._next))
            self._next += 1
            keep = max(0, (self.lay.core(self._next)[0] - CTX_FRAMES) * self.lay.hop)
            self._buf = self._buf[keep - self._start:]
            self._start = keep
        return out

    def finish(self) -> list[ChunkLatent]:
        if self._have < self.lay.samples:  # resampler rounding: pad the last few samples
            width = self._buf.shape[1] if self._buf.size else 1
            pad = np.zeros((self.lay.samples - self._have, width), np.float32)
            return self.feed(pad)
        return []

    def _encode(self, k: int) -> ChunkLatent:
        lay, st = self.lay, self.net.cfg.stft
        f0, f1 = lay.core(k)
        s0 = max(0, (f0 - CTX_FRAMES) * lay.hop)
        s1 = lay.needed(k)
        x = np.ascontiguousarray(self._buf[s0 - self._start:s1 - self._start].T)
        first = (f0 - s0 // lay.hop) // lay.down
        width = -(-(f1 - f0) // lay.down)
        spec0 = stft(x[:1], n_fft=st.n_fft, hop=st.hop)
        logmag = log_abs(spec0)
        e0 = f0 - s0 // lay.hop

        def side() -> tuple[np.ndarray | None, Any]:  # (ILD, stereo image): from the channels
            spec = stft(x[1:], n_fft=st.n_fft, hop=st.hop)[:, :, e0:e0 + f1 - f0]
            if self.image_slot is not None:
                return None, encode_chunk(spec[0].astype(np.complex128),
                                          spec[1].astype(np.complex128), rate=st.rate,
                                          slot=self.image_slot)
            return ild_symbols(np.abs(spec[0]), np.abs(spec[1]), rate=st.rate,
                               down=ILD_FRAMES), None

        def net() -> Any:
            return self.net.encode(logmag)

        if x.shape[0] == 3:  # the stereo analysis beside the net
            latent, (ild, image) = workers.run_all(net, side)
        else:
            latent, ild, image = net(), None, None
        target = logmag[0, :, e0:e0 + f1 - f0].copy()
        phase = np.angle(spec0[0, :, e0:e0 + f1 - f0]) if self.keep_phase else None
        return ChunkLatent(latent[0, :, first:first + width].copy(), ild, latent[0], first,
                           target, phase, image)


@dataclass(frozen=True)
class ChunkSymbols:  # not a NamedTuple: its field ``index`` would hide tuple.index
    index: int
    latent: np.ndarray  # dequantized float32 [C, W]
    step: float
    ild: np.ndarray | None
    residual: np.ndarray | None = None  # float32 [bins, f1 - f0], added to the decoder output
    phase: np.ndarray | None = None  # uint8 [f1 - f0, peaks]: peak-phase symbols (peakphase)
    image: tuple[np.ndarray, np.ndarray] | None = None  # stereo image symbols (ILD, ICC)
    highband: np.ndarray | None = None  # float64 [bands, slots]: high-band envelope, dB


class ChunkDecoder:
    """Turn a run of consecutive chunks into model-rate audio ``[n, channels]`` blocks.

    Call :meth:`push` with chunks in order (the first may be any chunk: seeking), then
    :meth:`finish`. Output blocks are contiguous, starting at sample ``core(first)[0] * hop``.
    """

    def __init__(self, net: Net, layout: Layout, *, stereo: bool,
                 iters: int | None = None, momentum: float = DEFAULT_MOMENTUM,
                 seed: int = 0, image_slot: int | None = None) -> None:
        self.net, self.lay, self.stereo = net, layout, stereo
        self.image_slot = image_slot  # the stereo image's slot (None: ILD or mono)
        self.iters = min(net.cfg.decode_iters, MAX_DEFAULT_ITERS) if iters is None else iters
        self.momentum, self.seed = momentum, seed
        self._window: list[ChunkSymbols] = []
        self._prev: tuple[int, np.ndarray] | None = None  # (first frame, complex [F, GL_LEFT])
        self._tail: tuple[int, np.ndarray] | None = None  # (abs sample, samples [n, ch])

    def push(self, chunk: ChunkSymbols) -> Iterator[np.ndarray]:
        self._window.append(chunk)
        if len(self._window) >= 2 and self._window[-2].index == self._window[-1].index - 1:
            target = self._window[-2]
            yield from self._decode(target, self._window[-3:], last=False)
            self._window = self._window[-2:]

    def finish(self) -> Iterator[np.ndarray]:
        if self._window:
            yield from self._decode(self._window[-1], self._window[-2:], last=True)
        if self._tail is not None:
            yield self._tail[1]
            self._tail = None

    def _latent(self, target: ChunkSymbols,
                window: list[ChunkSymbols]) -> tuple[np.ndarray, np.ndarray, int]:
        """The decoder's input around ``target``: latent ``[1, C, Tl]``, steps ``[1, 1, Tl]``
        and the first STFT frame of its output (``Tl * down`` frames)."""
        ctx = CTX_FRAMES // self.lay.down
        parts, steps, first_latent = [], [], None
        for c in window:
            lo = c.index * self.lay.chunk_frames
            a = 0 if c.index == target.index else (max(0, c.latent.shape[1] - ctx)
                                                    if c.index < target.index else 0)
            b = c.latent.shape[1] if c.index <= target.index else min(ctx, c.latent.shape[1])
            if first_latent is None:
                first_latent = lo + a
            parts.append(c.latent[:, a:b])
            steps.append(np.full(b - a, c.step, np.float32))
        assert first_latent is not None
        z = np.concatenate(parts, axis=1)[None]
        step = np.concatenate(steps)[None, None]
        return z, step, first_latent * self.lay.down

    def _decode(self, target: ChunkSymbols, window: list[ChunkSymbols], *,
                last: bool) -> Iterator[np.ndarray]:
        lay, st = self.lay, self.net.cfg.stft
        f0, f1 = lay.core(target.index)
        z, step, lm0 = self._latent(target, window)
        has_prev = self._prev is not None and self._prev[0] == f0 - GL_LEFT
        g0 = f0 - GL_LEFT if has_prev else f0
        g1 = min(lay.frames, f1 + GL_RIGHT, lm0 + z.shape[-1] * lay.down)
        seed = self.seed * 1_000_003 + target.index
        logmag, phase0 = workers.run_all(  # Griffin-Lim's random start beside the net
            lambda: self.net.decode(z, step=step)[0],
            lambda: random_phase((st.bins, g1 - g0), seed=seed))
        if target.residual is not None:
            logmag = logmag.copy()
            logmag[:, f0 - lm0:f1 - lm0] += target.residual
        mag = magnitude_from_log(logmag[:, g0 - lm0:g1 - lm0])
        pinned = self._prev[1][None] if has_prev and self._prev is not None else None
        if self.net.phase is not None:  # learned initial phase, continuing the emitted frames
            start, anchor = ((np.angle(pinned[0, :, -1]), GL_LEFT - 1) if pinned is not None
                             else (phase0[:, 0], 0))
            phase0 = initial_phase(self.net.phase, logmag[None, :, g0 - lm0:g1 - lm0],
                                   n_fft=st.n_fft, hop=st.hop, start=start[None],
                                   anchor=min(anchor, g1 - g0 - 1))[0]
        a0 = g0 * lay.hop
        length = (lay.samples if g1 == lay.frames else (g1 - 1) * lay.hop) - a0
        hold = None
        if target.phase is not None:  # peak phases sent for the chunk's own frames
            core = logmag[:, f0 - lm0:f1 - lm0]
            held, held_phase = phases_from_symbols(target.phase, core, hop=st.hop,
                                                   n_fft=st.n_fft)
            mask = np.zeros(mag.shape, dtype=bool)
            angle = np.zeros(mag.shape, np.float32)
            mask[:, f0 - g0:f1 - g0] = held
            angle[:, f0 - g0:f1 - g0] = held_phase
            hold = (mask[None], angle[None])
        spec = griffin_lim(mag[None], n_fft=st.n_fft, hop=st.hop, length=length,
                           iters=self.iters, momentum=self.momentum, init_phase=phase0[None],
                           pinned=pinned, hold=hold, return_spec=True)[0]
        self._prev = (f1 - GL_LEFT, spec[:, f1 - GL_LEFT - g0:f1 - g0].copy())
        chans = [istft(c[None], n_fft=st.n_fft, hop=st.hop, length=length)[0]
                 for c in self.channel_spectra(spec, target, g0=g0, g1=g1)]
        seg = np.stack(chans, axis=1)
        yield from self._emit(seg, a0, f0 * lay.hop, f1 * lay.hop, last=last)

    def channel_spectra(self, spec: np.ndarray, target: ChunkSymbols, *, g0: int,
                        g1: int) -> list[np.ndarray]:
        """Per-channel reconstruction: the mid's complex STFT ``[bins, g1 - g0]`` (absolute
        frames ``g0 .. g1 - 1``) -> one complex STFT per output channel, the same shape (the
        mid itself for mono; two for stereo). A layer that adds to each channel follows this
        step."""
        st = self.net.cfg.stft
        f0, f1 = self.lay.core(target.index)
        if self.stereo and target.image is not None and self.image_slot is not None:
            left, right = channel_spectra(spec.astype(np.complex128), *target.image,
                                          rate=st.rate, slot=self.image_slot, f0=f0,
                                          start=g0 - f0)
            return [c.astype(np.complex64) for c in (left, right)]
        if self.stereo and target.ild is not None:
            gl, gr = channel_gains(target.ild, bins=spec.shape[0], frames=f1 - f0,
                                   rate=st.rate, down=ILD_FRAMES)
            gains = [np.pad(g, ((0, 0), (f0 - g0, g1 - f1)), mode="edge") for g in (gl, gr)]
            return [spec * g for g in gains]
        return [spec]

    def _emit(self, seg: np.ndarray, a0: int, r0: int, r1: int, *,
              last: bool) -> Iterator[np.ndarray]:
        """Emit samples of responsibility ``[r0, r1)``; cross-fade with the previous tail."""
        end = a0 + len(seg)
        if self._tail is not None:
            t0, tail = self._tail
            n = min(len(tail), end - t0)
            w = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32)))[:, None]
            yield tail[:n] * (1 - w) + seg[t0 - a0:t0 - a0 + n] * w
            start = t0 + n
        else:
            start = r0
        if last:
            yield seg[start - a0:]
            self._tail = None
            return
        cut = max(start, min(r1 - XFADE // 2, end))
        yield seg[start - a0:cut - a0]
        self._tail = (cut, seg[cut - a0:min(end, r1 + XFADE // 2) - a0].copy())
