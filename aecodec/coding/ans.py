"""Context-adaptive entropy coding of the quantized streams with fitted probability tables.

The container's ``"coder": "ans-<sha>"`` streams: integers are coded by an asymmetric numeral
system (``constriction``'s ``AnsCoder``) under one of ``K`` fixed probability tables (discrete
Laplace laws, scale doubling every 4 tables), the table chosen per symbol from what the decoder
already knows:

* latent symbols ``x [C, T]`` (int8): an integer AR(1) prediction from the previous frame of the
  same channel, ``pred = (PM[c] * x[c, t-1] + 128) >> 8``, is subtracted; the table index is
  ``LA[c] + LS * j + (PB[c] * L[|x[c, t-1]|] >> 8)``, with ``j`` the step's grid index;
* DCT residual coefficients ``q [16, 16, R, C]`` (see :mod:`aecodec.coding.residual`): the index is
  ``RA[u, v] + RS * j + ROW[r] + (RP[u, v] * L[|q[u, v, r, c-1]|] >> 8)
  + (RN * L[|q[u, v, r-1..r+1, c-1]| summed] >> 8)`` - the previous block in time, same
  coefficient, and its neighbours in frequency.

Every quantity is an integer in units of 1/256 table; the sum is rounded (``+128 >> 8``) and
clipped to ``0..K-1``. Only integer arithmetic picks a table, and the tables are stored as
numbers (not recomputed), so encoder and decoder agree bit for bit on any machine.

The parameters are fitted by maximum likelihood on symbols of the training pool
(:mod:`aecodec.train.entropy`) and shipped in ``models/ans-<sha12>.npz`` (numeric arrays
only, loaded with ``allow_pickle=False``, named by their sha256). Measured on 20 held-out
clips against zstd level 19 (the ``"zstd"`` coder): see docs/models.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aecodec.coding.ans_tables import (  # noqa: F401 - the coder's tables, re-exported
    CTX_CLIP,
    GRID,
    HASH_CHARS,
    SPAN,
    TABLE_OCTAVE,
    Tables,
    find_tables,
    load_tables,
    save_tables,
    tables_by_sha,
)
from aecodec.errors import FormatError


def grid_index(step: float) -> int:
    """Grid index ``j`` of a step that lies on the grid (``round(GRID * log2(step))``)."""
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"grid_index() called with step={step!r}")
    return round(GRID * math.log2(step))


def grid_step(j: int) -> float:
    """The float32 step of grid index ``j``."""
    return float(np.float32(2.0 ** (j / GRID)))


def snap_up(step: float) -> float:
    """The smallest grid step ``>= step`` (within float32 rounding)."""
    j = math.ceil(GRID * math.log2(step) - 1e-6)
    return grid_step(j)


# --- contexts (integers only) -------------------------------------------------------------

def _index(acc: np.ndarray, tables: int) -> np.ndarray:
    return np.clip((acc + 128) >> 8, 0, tables - 1)


def latent_context(prev: np.ndarray, t: Tables, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Prediction and table index of frame ``x[:, k]`` from ``prev = x[:, k-1]`` ``[C, ...]``
    (int64; zeros before the first frame)."""
    shape = (-1,) + (1,) * (prev.ndim - 1)
    pred = (t["PM"].reshape(shape) * prev + 128) >> 8
    mag = t["L"][np.minimum(np.abs(prev), CTX_CLIP)]
    acc = t["LA"].reshape(shape) + int(t["LS"]) * j + ((t["PB"].reshape(shape) * mag) >> 8)
    return pred, _index(acc, t.tables)


def residual_context(prev: np.ndarray, t: Tables, j: int) -> np.ndarray:
    """Table index ``[16, 16, R, ...]`` of a block column from the previous one ``prev``
    (``|q|`` of blocks ``c - 1``, zeros before the first column). int32 arithmetic: every
    term is bounded (``|j| <= 2**12`` is refused)."""
    if abs(j) > 1 << 12:
        raise ValueError(f"residual_context() called with grid index j={j}")
    a = np.minimum(prev, CTX_CLIP).astype(np.int32)
    nb = a.copy()
    nb[:, :, 1:] += a[:, :, :-1]
    nb[:, :, :-1] += a[:, :, 1:]
    np.minimum(nb, CTX_CLIP, out=nb)
    rows = a.shape[2]
    row_t = t.i32("ROW")
    r_idx = (np.arange(rows) * (row_t.shape[0] - 1) + (rows - 1) // 2) // max(rows - 1, 1)
    extra = (1,) * (prev.ndim - 3)
    const = (t.i32("RA").reshape(16, 16, 1) + np.int32(int(t["RS"]) * j)
             + row_t[r_idx].reshape(1, 1, rows)).reshape((16, 16, rows) + extra)
    lut = t.i32("L")
    acc = (t.i32("RP").reshape((16, 16, 1) + extra) * lut[a]) >> 8
    acc += (np.int32(int(t["RN"])) * lut[nb]) >> 8
    acc += const + 128
    acc >>= 8
    return np.clip(acc, 0, t.tables - 1, out=acc)


def _shift_time(x: np.ndarray) -> np.ndarray:
    """``x`` delayed by one step along the last axis (zeros first), same dtype."""
    out = np.zeros(x.shape, x.dtype)
    out[..., 1:] = x[..., :-1]
    return out


def latent_values(x: np.ndarray, t: Tables, j: int) -> tuple[np.ndarray, np.ndarray]:
    """All of a chunk's coded values ``x - pred`` and table indices, ``[C, T]`` each."""
    xi = x.astype(np.int64)
    pred, idx = latent_context(_shift_time(xi), t, j)
    return xi - pred, idx


def latent_bits(x: np.ndarray, t: Tables, j: int) -> float:
    """Ideal code length in bits of latent symbols ``x [C, T]`` at grid index ``j``."""
    v, idx = latent_values(x, t, j)
    return float(t.log2p[idx, v + SPAN].sum())


def residual_bits(q: np.ndarray, t: Tables, j: int) -> float:
    """Ideal code length in bits of residual integers ``q [16, 16, R, C]`` (|q| <= SPAN)."""
    idx = residual_context(_shift_time(np.abs(q)), t, j)
    return float(t.log2p.ravel()[idx * (2 * SPAN + 1) + q + SPAN].sum())


# --- coding -----------------------------------------------------------------------------

def _groups(idx: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Stable order of ``idx`` and its runs ``(table, start, stop)`` in increasing table."""
    small = idx.astype(np.uint8)  # tables < 256: NumPy's stable sort is then a radix sort
    order = np.argsort(small, kind="stable")
    ranked = small[order]
    cuts = np.flatnonzero(ranked[1:] != ranked[:-1]) + 1
    starts = [0, *cuts.tolist()]
    stops = [*cuts.tolist(), len(order)]
    return order, [(int(ranked[a]), a, b) for a, b in zip(starts, stops, strict=True)]


def _push(coder: Any, values: np.ndarray, idx: np.ndarray, t: Tables) -> None:
    """Push one decode step's values (flat) so that :func:`_pull` reads them back: grouped
    by table in increasing order, groups pushed last-first (ANS is a stack)."""
    order, runs = _groups(idx)
    models = t.models()
    for k, a, b in reversed(runs):
        coder.encode_reverse((values[order[a:b]] + SPAN).astype(np.int32), models[k])


def _pull(coder: Any, idx: np.ndarray, t: Tables) -> np.ndarray:
    order, runs = _groups(idx)
    models = t.models()
    out = np.empty(len(idx), np.int64)
    for k, a, b in runs:
        out[order[a:b]] = coder.decode(models[k], b - a)
    return out - SPAN


def _finish(coder: Any) -> bytes:
    return np.asarray(coder.get_compressed(), dtype="<u4").tobytes()


def _start(data: bytes, name: str) -> Any:
    import constriction

    if len(data) % 4:
        raise FormatError(f"{name}: entropy-coded stream of {len(data)} bytes is not whole words")
    try:
        return constriction.stream.stack.AnsCoder(np.frombuffer(data, dtype="<u4").copy())
    except (ValueError, RuntimeError) as exc:  # e.g. a last word of 0: not an ANS stream
        raise FormatError(f"{name}: entropy-coded stream does not decode ({exc})") from None


def encode_latent(x: np.ndarray, t: Tables, j: int) -> bytes:
    """int8 ``[C, T]`` symbols at step grid index ``j`` -> bytes."""
    import constriction

    if x.ndim != 2 or x.shape[0] != t.channels:
        raise ValueError(f"encode_latent() needs [{t.channels}, T], got {x.shape}")
    v, idx = latent_values(x, t, j)
    coder = constriction.stream.stack.AnsCoder()
    for k in reversed(range(x.shape[1])):
        _push(coder, v[:, k], idx[:, k], t)
    return _finish(coder)


def decode_latent(data: bytes, t: Tables, j: int, *, shape: tuple[int, int],
                  name: str = "<stream>") -> np.ndarray:
    """Inverse of :func:`encode_latent` -> int8 ``shape``; :class:`FormatError` on bad data."""
    channels, frames = shape
    if channels != t.channels:
        raise FormatError(f"{name}: {channels} latent channels, entropy tables have {t.channels}")
    coder = _start(data, name)
    out = np.zeros((channels, frames), np.int64)
    prev = np.zeros(channels, np.int64)
    try:
        for k in range(frames):
            pred, idx = latent_context(prev, t, j)
            out[:, k] = prev = _pull(coder, idx, t) + pred
    except BaseException as exc:  # garbage words: a Rust panic arrives as a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        raise FormatError(f"{name}: latent stream does not decode ({exc})") from None
    if np.abs(out).max(initial=0) > 127:
        raise FormatError(f"{name}: latent stream decodes outside int8")
    return out.astype(np.int8)


def encode_residual(q: np.ndarray, t: Tables, j: int) -> bytes:
    """Residual integers ``[16, 16, R, C]`` (|q| <= SPAN) at scale grid index ``j`` -> bytes."""
    import constriction

    if q.ndim != 4 or q.shape[:2] != (16, 16) or np.abs(q).max(initial=0) > SPAN:
        raise ValueError(f"encode_residual() needs [16, 16, R, C] within +-{SPAN}")
    qi = q.astype(np.int64)
    idx = residual_context(_shift_time(np.abs(qi)), t, j)
    coder = constriction.stream.stack.AnsCoder()
    for c in reversed(range(q.shape[3])):
        _push(coder, qi[..., c].ravel(), idx[..., c].ravel(), t)
    return _finish(coder)


def decode_residual(data: bytes, t: Tables, j: int, *, blocks: tuple[int, int],
                    name: str = "<stream>") -> np.ndarray:
    """Inverse of :func:`encode_residual` -> int64 ``[16, 16, rows, cols]``."""
    rows, cols = blocks
    coder = _start(data, name)
    out = np.zeros((16, 16, rows, cols), np.int64)
    prev = np.zeros((16, 16, rows), np.int64)
    try:
        for c in range(cols):
            idx = residual_context(prev, t, j)
            out[..., c] = _pull(coder, idx.ravel(), t).reshape(16, 16, rows)
            prev = np.abs(out[..., c])
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        raise FormatError(f"{name}: residual stream does not decode ({exc})") from None
    return out
