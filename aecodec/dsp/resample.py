"""Polyphase resampling (``resample_poly``, Kaiser window): block-wise, and one-shot.

The one resampler of the package: encoding, decoding, classification, training data and the
metrics all use :class:`StreamResampler` (:func:`resample` feeds it a whole signal at once),
so a WAV and the ``.aec`` made from it go through the same front end.

``resample_poly`` filters with a FIR of half-length ``10 * max(up, down)`` taps in the
upsampled domain, i.e. ``10 * max(up, down) / up`` input samples. :class:`StreamResampler`
keeps that many samples of history, resamples each new block with the margin on both sides and
emits only outputs whose filter support lies entirely inside the samples seen so far, so the
concatenated output equals the one-shot result (to float rounding) while memory stays bounded.
"""

from __future__ import annotations

import math

import numpy as np

from aecodec.dsp.polyphase import resample_poly


class StreamResampler:
    """Resample a stream of ``[samples, ...]`` blocks from ``orig_rate`` to ``new_rate``.

    Feed blocks with :meth:`feed` (returns the outputs that are final), then call
    :meth:`flush` once at the end (returns the rest, zero-padded past the end exactly as
    ``resample_poly`` pads). The total output length is ``ceil(n * new_rate / orig_rate)``.
    """

    def __init__(self, *, orig_rate: int, new_rate: int) -> None:
        g = math.gcd(new_rate, orig_rate)
        self.up, self.down = new_rate // g, orig_rate // g
        self.margin = math.ceil(10 * max(self.up, self.down) / self.up) + 8
        self._buf: np.ndarray | None = None  # input samples from absolute index self._start
        self._start = 0
        self._seen = 0  # input samples fed so far
        self._emitted = 0  # output samples returned so far

    def _resample_from(self, a: int, stop: int) -> np.ndarray:
        """Outputs ``[self._emitted, stop)`` using buffered input from absolute ``a``."""
        assert self._buf is not None
        block = self._buf[a - self._start:]
        if self.up == self.down:
            y = block
        else:
            y = resample_poly(block, self.up, self.down)
        first = a * self.up // self.down
        return np.asarray(y[self._emitted - first: stop - first], dtype=np.float32)

    def _block_start(self) -> int:
        a = max(0, self._emitted * self.down // self.up - self.margin)
        return max(self._start, (a // self.down) * self.down)

    def feed(self, block: np.ndarray) -> np.ndarray:
        """Add input samples; return the outputs that no later input can change."""
        block = np.asarray(block, dtype=np.float32)
        self._buf = block if self._buf is None else np.concatenate([self._buf, block])
        self._seen += len(block)
        ready = max(0, (self._seen - self.margin) * self.up // self.down)
        if ready <= self._emitted:
            return self._buf[:0]
        out = self._resample_from(self._block_start(), ready)
        self._emitted = ready
        keep = self._block_start()  # drop history no future output needs
        self._buf = self._buf[keep - self._start:]
        self._start = keep
        return out

    def flush(self) -> np.ndarray:
        """The remaining outputs (the input is complete)."""
        if self._buf is None:
            return np.zeros(0, np.float32)
        total = -(-self._seen * self.up // self.down)
        if total <= self._emitted:
            return self._buf[:0]
        out = self._resample_from(self._block_start(), total)
        self._emitted = total
        return out


def resample(x: np.ndarray, *, orig_rate: int, new_rate: int) -> np.ndarray:
    """A whole signal ``[samples, ...]`` -> float32 ``[ceil(samples * new_rate / orig_rate), ...]``
    through :class:`StreamResampler` (equal to one-shot ``resample_poly`` to float rounding);
    identity when the rates match."""
    if orig_rate == new_rate:
        return np.asarray(x, dtype=np.float32)
    r = StreamResampler(orig_rate=orig_rate, new_rate=new_rate)
    return np.concatenate([r.feed(x), r.flush()])
