"""The two stream coders of a file's ``"coder"`` field, behind one interface.

A :class:`StreamCoder` codes the two rate-controlled streams of a chunk - the quantized latent
(base layer) and the DCT-coded ln-magnitude residual (enhancement layer) - and decodes them
again. :class:`ZstdCoder` (``"zstd"``, every file before the ANS tables, and the v1 golden file)
searches a continuous step with zstd frames; :class:`AnsCoder` (``"ans-<sha12>"``) searches the
ANS step grid (:mod:`aecodec.coding.ans`) with fitted context tables. Which one a file uses is
chosen once, by :func:`coder_for_encoding` or :func:`coder_for_file`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from aecodec.codec.ratecontrol import RateState, fit_grid, fit_steps
from aecodec.coding import ans
from aecodec.coding.quantize import quantize
from aecodec.coding.residual import (
    HEADER,
    ZSTD_LEVEL,
    blocks_of,
    decode_dct,
    encode_coefficients,
    quantize_coefficients,
    reconstruct,
)
from aecodec.errors import FormatError, ModelError
from aecodec.format.payload import LATENT, encode_stream, pack_payload
from aecodec.model.npz_weights import model_dirs

Streams = list[tuple[int, float, bytes]]
"""``(kind, step, bytes)`` of each stream of a chunk payload (:mod:`aecodec.format.payload`)."""
Residual = tuple[float, bytes, Callable[[], np.ndarray]]
"""A residual layer: scale, stream, and what it decodes to (computed on demand: only the
peak-phase layer needs it)."""

SEARCH_LEVEL = 12
"""zstd level of the base layer's rate search (the chosen step is then coded at level 19):
on latent symbols level 12 is within 1 % of level 19 in size and 10x faster."""


class StreamCoder(ABC):
    """Codes and decodes the latent and residual streams of one file."""

    name: str
    """The metadata's ``"coder"`` value."""
    raw_latent: bool
    """Whether the payload parser hands the latent stream over as bytes (else zstd symbols)."""

    @abstractmethod
    def base(self, latent: np.ndarray, extra: Streams, budget: float, *, lo: float, hi: float,
             start: float) -> tuple[Streams, float]:
        """The latent ``[C, W]`` at the finest step in ``[lo, hi]`` whose payload (with the
        ``extra`` streams) fits ``budget`` bytes (``hi`` if none does) -> (streams, step)."""

    @abstractmethod
    def residual(self, coefs: np.ndarray, shape: tuple[int, int], room: float,
                 state: RateState) -> Residual | None:
        """The finest residual layer of DCT ``coefs`` (:func:`dct_blocks` of a ``shape``
        residual) within ``room`` bytes, or None."""

    @abstractmethod
    def decode_latent(self, data: np.ndarray | bytes, *, step: float, shape: tuple[int, int],
                      name: str) -> np.ndarray:
        """A latent stream -> int8 symbols ``shape``."""

    @abstractmethod
    def decode_residual(self, raw: bytes, *, scale: float, shape: tuple[int, int],
                        name: str) -> np.ndarray:
        """A residual stream -> float32 ln-magnitude residual ``shape``."""


class ZstdCoder(StreamCoder):
    """zstd frames: a secant search on a continuous step; residuals as DCT streams."""

    name = "zstd"
    raw_latent = False

    def base(self, latent: np.ndarray, extra: Streams, budget: float, *, lo: float, hi: float,
             start: float) -> tuple[Streams, float]:
        coded: dict[float, Streams] = {}  # step -> base-layer streams

        def code(step: float, level: int = SEARCH_LEVEL) -> bytes:
            symbols = quantize(latent, step=step)
            coded[step] = [(LATENT, step, encode_stream(symbols, level=level)), *extra]
            return pack_payload(coded[step])

        found = fit_steps(lambda x: len(code(x)), budget, lo=lo, hi=hi, start=start)
        step = found if found is not None else hi
        if step not in coded:
            code(step)
        searched = coded[step]
        code(step, level=19)  # the search ran at a faster level: keep the smaller frame
        if len(pack_payload(searched)) < len(pack_payload(coded[step])):
            coded[step] = searched
        return coded[step], step

    def residual(self, coefs: np.ndarray, shape: tuple[int, int], room: float,
                 state: RateState) -> Residual | None:
        def code(scale: float, level: int = ZSTD_LEVEL) -> bytes:
            return encode_coefficients(coefs, shape=shape, scale=scale, level=level, narrow=True)

        try:
            # search with fast zstd (level 3), then code the chosen scale once at level 19. The
            # size ratio of the two levels is carried from chunk to chunk (measured on the
            # first), so one level-19 compression per chunk is the rule (profiled: level 19 took
            # 40 % of the encode when the search ran it at every step)
            start = state.scale
            ratio = state.ratio or len(code(start)) / len(code(start, 3))
            for _ in range(2):  # a second search only when the carried ratio missed by > 10 %
                found = fit_steps(lambda x: len(code(x, 3)), room / ratio, lo=0.02, hi=50.0,
                                  start=start)
                if found is None:
                    return None
                scale = found
                final = code(scale)
                ratio = len(final) / len(code(scale, 3))
                if 0.9 * room <= len(final) <= room:
                    break
            state.ratio = ratio
            for _ in range(3):  # the ratio drifted up: coarser until it fits
                if len(final) <= room:
                    break
                scale = float(np.float32(scale * (len(final) / room) ** 1.2 * 1.02))
                final = code(scale)
            if len(final) > room:
                return None
            state.scale = scale
        except ValueError:  # a scale too fine for 16-bit coefficients: no enhancement layer
            return None
        return scale, final, partial(decode_dct, final)

    def decode_latent(self, data: np.ndarray | bytes, *, step: float, shape: tuple[int, int],
                      name: str) -> np.ndarray:
        if not isinstance(data, np.ndarray):
            raise TypeError("ZstdCoder.decode_latent() takes the parsed symbols")
        return data

    def decode_residual(self, raw: bytes, *, scale: float, shape: tuple[int, int],
                        name: str) -> np.ndarray:
        """A DCT stream whose header must announce exactly ``shape``."""
        if len(raw) < HEADER.size:
            raise FormatError(f"{name}: residual stream truncated")
        _, _, _, freq, frames, stored = HEADER.unpack_from(raw)
        if (freq, frames) != shape or not (math.isfinite(stored) and stored > 0):
            raise FormatError(f"{name}: residual stream of shape {(freq, frames)} scale "
                              f"{stored!r}, expected {shape}")
        try:
            return decode_dct(raw)
        except FormatError as exc:
            raise FormatError(f"{name}: {exc}") from None


class AnsCoder(StreamCoder):
    """Context-adaptive ANS (:mod:`aecodec.coding.ans`) on its step grid: Newton searches."""

    raw_latent = True

    def __init__(self, tables: ans.Tables) -> None:
        self.tables = tables
        self.name = f"ans-{tables.sha256[:ans.HASH_CHARS]}"

    def base(self, latent: np.ndarray, extra: Streams, budget: float, *, lo: float, hi: float,
             start: float) -> tuple[Streams, float]:
        fixed = len(pack_payload(extra)) + 9 + 4  # stream header + ANS flush word

        def size(j: int) -> float:
            symbols = quantize(latent, step=ans.grid_step(j))
            return fixed + ans.latent_bits(symbols, self.tables, j) / 8

        j_lo = ans.grid_index(ans.snap_up(lo))  # never finer than lo: symbols would clamp
        j_hi = max(math.floor(ans.GRID * math.log2(hi) + 1e-6), j_lo)
        found = fit_grid(size, budget, lo=j_lo, hi=j_hi, start=ans.grid_index(ans.snap_up(start)))
        step = ans.grid_step(found if found is not None else j_hi)
        symbols = quantize(latent, step=step)
        data = ans.encode_latent(symbols, self.tables, ans.grid_index(step))
        return [(LATENT, step, data), *extra], step

    def residual(self, coefs: np.ndarray, shape: tuple[int, int], room: float,
                 state: RateState) -> Residual | None:
        unit = quantize_coefficients(coefs, scale=1.0, exact=False).astype(np.float32)
        peak = float(np.abs(unit).max())

        def size(j: int) -> float:
            scale = ans.grid_step(j)
            if peak / scale > ans.SPAN + 0.5:
                return math.inf
            q = np.rint(unit / np.float32(scale)).astype(np.int32)
            return 4 + ans.residual_bits(q, self.tables, j) / 8

        start = ans.grid_index(ans.snap_up(state.scale))
        found = fit_grid(size, room, lo=ans.grid_index(ans.snap_up(0.02)),
                         hi=ans.grid_index(ans.snap_up(50.0)), start=start)
        if found is None:
            return None
        j = found
        for _ in range(4):  # the estimate is within a word or two: coarser until it fits
            q = np.rint(unit / np.float32(ans.grid_step(j))).astype(np.int32)
            if np.abs(q).max() <= ans.SPAN:
                data = ans.encode_residual(q, self.tables, j)
                if len(data) <= room:
                    scale = ans.grid_step(j)
                    state.scale = scale
                    return scale, data, partial(reconstruct, q.astype(np.int64), shape=shape,
                                                scale=scale)
            j += 1
        return None

    def decode_latent(self, data: np.ndarray | bytes, *, step: float, shape: tuple[int, int],
                      name: str) -> np.ndarray:
        if not isinstance(data, bytes):
            raise TypeError("AnsCoder.decode_latent() takes the raw stream")
        return ans.decode_latent(data, self.tables, _grid(step, name=name), shape=shape, name=name)

    def decode_residual(self, raw: bytes, *, scale: float, shape: tuple[int, int],
                        name: str) -> np.ndarray:
        ints = ans.decode_residual(raw, self.tables, _grid(scale, name=name),
                                   blocks=blocks_of(shape), name=name)
        return reconstruct(ints, shape=shape, scale=scale)


def _grid(step: float, *, name: str) -> int:
    j = ans.grid_index(step)
    if abs(ans.grid_step(j) - step) > 1e-6 * step:
        raise FormatError(f"{name}: step {step!r} is not on the entropy coder's grid")
    return j


def coder_for_encoding(coder: str | None, *, model_sha: str, model_id: str) -> StreamCoder:
    """The coder an encode uses: ``"zstd"``, ``"ans"`` (the model's fitted tables;
    :class:`ModelError` if it has none) or None (``"ans"`` when the model has tables)."""
    if coder not in (None, "zstd", "ans"):
        raise ValueError(f"encode_blocks() called with coder={coder!r}")
    tables = ans.find_tables(model_sha=model_sha, dirs=model_dirs()) if coder != "zstd" else None
    if coder == "ans" and tables is None:
        raise ModelError(f"model {model_id} has no entropy tables (coder 'ans')")
    return AnsCoder(tables) if tables is not None else ZstdCoder()


def coder_for_file(meta: dict[str, Any], *, name: str) -> StreamCoder:
    """The coder a validated file's ``"coder"`` names."""
    coder = meta["coder"]
    if coder == "zstd":
        return ZstdCoder()
    try:
        return AnsCoder(ans.tables_by_sha(coder.removeprefix("ans-"), dirs=model_dirs()))
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}") from None
