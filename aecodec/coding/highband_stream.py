"""Streaming wrappers of :mod:`aecodec.coding.highband`: envelope analysis for the encoder and
high-band synthesis for the decoder, block by block with memory bounded by one chunk.

:class:`HighbandAnalyzer` takes the (mono) input at its own rate and returns each chunk's
envelope as soon as its samples are in. :class:`HighbandSynth` takes the decoded low band at the
output rate, ``[n, channels]`` blocks from absolute sample ``start`` on, and returns the same
signal with the high band, delayed by :data:`LATENCY` samples (the concatenated output equals
:func:`aecodec.coding.highband.synthesize` of the whole signal when ``start`` is 0).
"""

from __future__ import annotations

import math

import numpy as np

from aecodec.dsp.np_spectral import overlap_add

from . import highband as hb

BATCH = 64
"""Frames the synthesizer renders at a time."""
LATENCY = hb.N_FFT // 2 + 2 * hb.HOP
"""Samples the synthesizer needs beyond a sample before it is final (at most)."""


def chunk_slots(f0: int, f1: int, *, slot: int) -> tuple[int, int]:
    """Slots ``[s0, s1)`` of the model frames ``[f0, f1)`` of a chunk (``f0`` a multiple of
    ``slot``)."""
    return f0 // slot, -(-f1 // slot)


class HighbandAnalyzer:
    """Feed mono ``[n]`` blocks at ``rate``; collect ``(k, env_db [bands, slots])`` per chunk.

    ``chunks``: the model-frame range ``[f0, f1)`` of every chunk, in order."""

    def __init__(self, *, rate: int, bands: int, slot: int,
                 chunks: list[tuple[int, int]]) -> None:
        self.rate, self.bands, self.slot, self.chunks = rate, bands, slot, chunks
        self._buf = np.zeros(0, np.float32)
        self._start = 0  # absolute index of self._buf[0]
        self._next = 0

    def _span(self, k: int) -> tuple[int, int, int, int]:
        """``(s0, s1, first, last)``: the chunk's slots and the input samples they read."""
        s0, s1 = chunk_slots(*self.chunks[k], slot=self.slot)
        half = self.slot / 2 * hb.MODEL_HOP / hb.MODEL_RATE
        t0 = float(hb.slot_centre(s0, slot=self.slot)) - half
        t1 = float(hb.slot_centre(s1 - 1, slot=self.slot)) + half
        first = (math.floor(t0 * self.rate / hb.HOP) - 1) * hb.HOP - hb.N_FFT // 2
        last = (math.ceil(t1 * self.rate / hb.HOP) + 2) * hb.HOP + hb.N_FFT // 2
        return s0, s1, first, last

    def _emit(self, k: int) -> np.ndarray:
        s0, s1, _, _ = self._span(k)
        return hb.analyze(self._buf, rate=self.rate, x0=self._start, s0=s0, s1=s1,
                          slot=self.slot, bands=self.bands)

    def feed(self, block: np.ndarray) -> list[tuple[int, np.ndarray]]:
        self._buf = np.concatenate([self._buf, np.asarray(block, np.float32).reshape(-1)])
        out = []
        while self._next < len(self.chunks) and \
                self._start + len(self._buf) >= self._span(self._next)[3]:
            out.append((self._next, self._emit(self._next)))
            self._next += 1
            if self._next < len(self.chunks):
                keep = max(self._start, self._span(self._next)[2])
                self._buf = self._buf[keep - self._start:]
                self._start = keep
        return out

    def finish(self) -> list[tuple[int, np.ndarray]]:
        """The remaining chunks (samples past the end are zeros)."""
        out = []
        while self._next < len(self.chunks):
            out.append((self._next, self._emit(self._next)))
            self._next += 1
        return out


class HighbandSynth:
    """Add the high band to the decoded low band at ``rate``, block by block.

    Call :meth:`add` with each chunk's envelope (dB per slot, before its audio arrives), then
    :meth:`feed` with consecutive ``[n, channels]`` blocks starting at absolute output sample
    ``start`` and :meth:`flush` at the end. Samples before ``start`` count as silence (after a
    seek they are the warm-up that the decoder discards)."""

    def __init__(self, *, rate: int, bands: int, slot: int, channels: int, start: int = 0,
                 source_rate: int | None = None) -> None:
        self.rate, self.slot, self.channels = rate, slot, channels
        self.source_rate = source_rate or rate
        self.bands = min(bands, hb.band_count(rate))
        self.env: dict[int, np.ndarray] = {}
        self._buf = np.zeros((0, channels), np.float64)  # input from absolute self._b0
        self._b0 = start
        self._next = math.floor((start + hb.N_FFT // 2) / hb.HOP)  # first frame touching start
        while (self._next - 1) * hb.HOP + hb.N_FFT // 2 > start:
            self._next -= 1
        self._acc = np.zeros((0, channels), np.float64)  # overlap-add from absolute self._o0
        self._o0 = start
        self._emitted = start

    def add(self, s0: int, env_db: np.ndarray) -> None:
        """Envelope ``[bands, S]`` in dB of slots ``s0 .. s0 + S - 1``."""
        for i in range(env_db.shape[1]):
            self.env[s0 + i] = env_db[:, i]

    def forget_before(self, slot: int) -> None:
        """Drop envelopes of slots before ``slot`` (bounded memory)."""
        for s in [s for s in self.env if s < slot]:
            del self.env[s]

    def _render(self, t0: int, t1: int) -> None:
        """Render frames ``[t0, t1)`` into the overlap-add buffer."""
        half = hb.N_FFT // 2
        a = (t0 - 1) * hb.HOP - half  # first sample of frame t0 - 1
        b = t1 * hb.HOP + half  # one past the last sample of frame t1
        seg_src = np.zeros((b - a, self.channels))
        lo, hi = max(a, self._b0), min(b, self._b0 + len(self._buf))
        if hi > lo:
            seg_src[lo - a:hi - a] = self._buf[lo - self._b0:hi - self._b0]
        view = np.lib.stride_tricks.sliding_window_view(seg_src.T, hb.N_FFT, axis=-1)
        seg = view[:, ::hb.HOP][:, :t1 - t0 + 2]  # frames t0 - 1 .. t1, [ch, T + 2, N_FFT]
        frames = np.arange(t0, t1)
        target = hb.envelope_at(self.env, frames, rate=self.rate, slot=self.slot,
                                bands=self.bands)
        y = hb.render_frames(seg, frames, target, rate=self.rate, bands=self.bands,
                             source_rate=self.source_rate)
        end = (t1 - 1) * hb.HOP + half
        need = end - self._o0
        if need > len(self._acc):
            self._acc = np.concatenate([self._acc, np.zeros((need - len(self._acc),
                                                             self.channels))])
        ola = overlap_add(y, hop=hb.HOP, dtype=np.float64).T  # from frame t0's first sample
        s = t0 * hb.HOP - half - self._o0
        skip = max(0, -s)
        span = min(len(ola), len(self._acc) - s)
        self._acc[s + skip:s + span] += ola[skip:span]

    def _take(self, upto: int) -> np.ndarray:
        """Final samples ``[self._emitted, upto)``."""
        out = self._acc[self._emitted - self._o0:upto - self._o0]
        self._emitted = upto
        keep = upto - self._o0
        self._acc, self._o0 = self._acc[keep:], upto
        return out.astype(np.float32)

    def feed(self, block: np.ndarray) -> np.ndarray:
        self._buf = np.concatenate([self._buf, np.asarray(block, np.float64)])
        have = self._b0 + len(self._buf)
        # frame t can be rendered once frame t + 1 is complete
        ready = (have - hb.N_FFT // 2) // hb.HOP - 1
        while self._next < ready:
            t1 = min(ready, self._next + BATCH)
            self._render(self._next, t1)
            self._next = t1
        now = int(hb.slot_of_time(np.array([self._next * hb.HOP / self.rate]), slot=self.slot)[0])
        self.forget_before(now - 2)
        final = self._next * hb.HOP - hb.N_FFT // 2  # later frames start at or after this
        drop = max(0, (self._next - 1) * hb.HOP - hb.N_FFT // 2 - self._b0)
        self._buf, self._b0 = self._buf[drop:], self._b0 + drop
        return self._take(max(self._emitted, final))

    def flush(self) -> np.ndarray:
        """The rest (input complete): every frame that touches the input is rendered."""
        end = self._b0 + len(self._buf)
        last = (end + hb.N_FFT // 2 - 1) // hb.HOP + 1  # frames < last touch samples < end
        while self._next < last:
            t1 = min(last, self._next + BATCH)
            self._render(self._next, t1)
            self._next = t1
        if end > self._o0 + len(self._acc):
            self._acc = np.concatenate([self._acc, np.zeros((end - self._o0 - len(self._acc),
                                                             self.channels))])
        return self._take(max(self._emitted, end))
