"""Entropy coding of the high-band envelope (:mod:`aecodec.coding.highband`) with ANS.

Symbols ``q [bands, slots]`` (int, ``0..MAX_SYMBOL``) are coded slot by slot, band by band
(lowest first), each as ``r = q[b, s] - pred`` with the two-dimensional prediction

* ``pred = q[b, s-1] + q[b-1, s] - q[b-1, s-1]`` (``b > 0, s > 0``): the band follows its
  own past and the change the band below just made,
* ``q[b, s-1]`` (``b == 0, s > 0``), ``q[b-1, 0]`` (``b > 0, s == 0``), :data:`START`
  (``b == s == 0``),

clipped to ``0..MAX_SYMBOL``. ``r`` is coded by a ``constriction`` ``AnsCoder`` under one of
:data:`CONTEXTS` fixed tables, chosen by ``c = 2 min(|q[b, s-1] - q[b, s-2]|, 3) + (b == 0)``
(0 for ``s < 2``): a band that just moved is likely to move again. Table ``c`` is a two-sided
geometric law built with integers only: ``f(0) = 2**20``, ``f(k) = max(1, (f(k-1) * RATIO[c])
>> 8)`` for ``|k| = 1..SPAN``, probabilities ``f / sum(f)`` (float64, exactly rounded), so every
machine builds the same tables. ``RATIO`` was fitted (maximum likelihood on a 1/256 grid) on
envelopes of the codec's training pool (``scripts/highband_proto.py --fit``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from aecodec.errors import FormatError

from .highband import MAX_SYMBOL

SPAN = MAX_SYMBOL
"""Coded values ``r`` lie in ``-SPAN..SPAN``."""
START = 30
"""Prediction of the first band of a chunk's first slot."""
CONTEXTS = 8
RATIO = (116, 106, 112, 130, 122, 158, 134, 170)
"""Geometric ratio x 256 of each context's table (see the module docstring)."""


def _freqs(ratio: int) -> np.ndarray:
    f = [1 << 20]
    for _ in range(SPAN):
        f.append(max(1, (f[-1] * ratio) >> 8))
    half = np.array(f, dtype=np.int64)
    return np.concatenate([half[:0:-1], half])  # values -SPAN..SPAN


@lru_cache(maxsize=4)
def _tables(ratios: tuple[int, ...] = RATIO) -> tuple[list[Any], np.ndarray]:
    import constriction

    pmfs = [(f / f.sum()).astype(np.float64) for f in map(_freqs, ratios)]
    models = [constriction.stream.model.Categorical(p, perfect=False) for p in pmfs]
    bits = np.stack([-np.log2(p) for p in pmfs])
    return models, bits


def _pred(q: np.ndarray, b: int, s: int) -> int:
    if s == 0:
        p = START if b == 0 else int(q[b - 1, 0])
    elif b == 0:
        p = int(q[0, s - 1])
    else:
        p = int(q[b, s - 1]) + int(q[b - 1, s]) - int(q[b - 1, s - 1])
    return min(max(p, 0), MAX_SYMBOL)


def _ctx(q: np.ndarray, b: int, s: int) -> int:
    d = abs(int(q[b, s - 1]) - int(q[b, s - 2])) if s >= 2 else 0
    return 2 * min(d, 3) + (b == 0)


def residuals(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coded values and contexts ``[slots * bands]`` in coding order (slot-major)."""
    bands, slots = q.shape
    vals, ctxs = [], []
    for s in range(slots):
        for b in range(bands):
            vals.append(int(q[b, s]) - _pred(q, b, s))
            ctxs.append(_ctx(q, b, s))
    return np.array(vals, np.int64), np.array(ctxs, np.int64)


def envelope_bits(q: np.ndarray, *, ratios: tuple[int, ...] = RATIO) -> float:
    """Ideal code length in bits of ``q``."""
    v, c = residuals(q)
    return float(_tables(ratios)[1][c, v + SPAN].sum())


def encode_envelope(q: np.ndarray) -> bytes:
    """Symbols ``[bands, slots]`` in ``0..MAX_SYMBOL`` -> ANS words (little-endian u32)."""
    import constriction

    q = np.asarray(q)
    if q.ndim != 2 or q.size == 0 or q.min() < 0 or q.max() > MAX_SYMBOL:
        raise ValueError(f"encode_envelope() needs [bands, slots] in 0..{MAX_SYMBOL}")
    models, _ = _tables()
    v, c = residuals(q)
    coder = constriction.stream.stack.AnsCoder()
    for k in range(len(v) - 1, -1, -1):
        coder.encode_reverse(np.array([v[k] + SPAN], np.int32), models[int(c[k])])
    return np.asarray(coder.get_compressed(), dtype="<u4").tobytes()


def decode_envelope(data: bytes, *, shape: tuple[int, int], name: str = "<stream>") -> np.ndarray:
    """Inverse of :func:`encode_envelope` -> int64 ``shape``; :class:`FormatError` on bad data."""
    import constriction

    if len(data) % 4:
        raise FormatError(f"{name}: high-band stream of {len(data)} bytes is not whole words")
    bands, slots = shape
    models, _ = _tables()
    q = np.zeros(shape, np.int64)
    try:  # the coder itself refuses words that do not end the way an encoder leaves them
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, dtype="<u4").copy())
        for s in range(slots):
            for b in range(bands):
                r = int(coder.decode(models[_ctx(q, b, s)], 1)[0]) - SPAN
                q[b, s] = _pred(q, b, s) + r
    except BaseException as exc:  # garbage words: a Rust panic arrives as a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        raise FormatError(f"{name}: high-band stream does not decode ({exc})") from None
    if q.min(initial=0) < 0 or q.max(initial=0) > MAX_SYMBOL:
        raise FormatError(f"{name}: high-band stream decodes outside 0..{MAX_SYMBOL}")
    return q


def fit_ratios(qs: list[np.ndarray]) -> tuple[int, ...]:
    """Maximum-likelihood ``RATIO`` (x 256, ``1..255``) for envelopes ``qs``."""
    v = np.concatenate([residuals(q)[0] for q in qs])
    c = np.concatenate([residuals(q)[1] for q in qs])
    out = []
    for k in range(CONTEXTS):
        sel = v[c == k] + SPAN
        if not len(sel):
            out.append(RATIO[k])
            continue
        costs = []
        for ratio in range(8, 256, 2):
            f = _freqs(ratio)
            costs.append((float(-np.log2(f[sel] / f.sum()).sum()), ratio))
        out.append(min(costs)[1])
    return tuple(out)
