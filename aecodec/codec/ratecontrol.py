"""Rate control: the searches that pick a quantizer step or scale for a byte budget, and the
state carried from chunk to chunk of one file.

A file's budget is ``kbps * seconds / 8`` bytes less its container overhead; each chunk gets
its share by duration plus what earlier chunks left unspent (or overspent), so the whole file
lands on the requested rate. Each layer then searches the finest step that fits its part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

STEP_MIN, STEP_MAX = 0.08, 2.0
"""Quantizer steps rate control may choose: the range the decoder was trained on."""
RATE_SEARCH_ITERS = 10


@dataclass
class RateState:
    """What rate control carries from one chunk of a file to the next.

    ``step``: the last base-layer step (the next search starts there); ``slack``: bytes the
    chunks so far left unspent (negative: overspent); ``scale``: the last residual scale;
    ``ratio``: size of a level-19 over a level-3 zstd residual (``"zstd"`` coder);
    ``phase_bytes_per_frame``: what the peak-phase layer cost a frame in the last chunk.
    """

    step: float | None = None
    slack: float = 0.0
    scale: float = 1.0
    ratio: float | None = None
    phase_bytes_per_frame: float | None = None

    def chunk_target(self, *, budget: float, share: float) -> float:
        """Bytes for a chunk holding ``share`` of the file's duration: its share of
        ``budget`` plus the carried slack (clamped to -25 %..+50 % of the share)."""
        carry = min(max(self.slack, -0.25 * budget * share), 0.5 * budget * share)
        return budget * share + carry


def fit_steps(size: Callable[[float], float], budget: float, *, lo: float, hi: float,
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


def fit_grid(size: Callable[[int], float], budget: float, *, lo: int, hi: int,
              start: int) -> int | None:
    """The finest grid index ``j`` in ``[lo, hi]`` (:mod:`aecodec.coding.ans` steps ``2 ** (j / 16)``)
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

