"""The fitted probability tables of :mod:`aecodec.coding.ans`: the numbers, their file format
and where they are found.

A tables file is ``ans-<sha12>.npz`` (:mod:`aecodec.format.hashed`): numeric arrays only, loaded
with ``allow_pickle=False``; ``model_sha`` names the codec weights the latent part was fitted
for (:mod:`aecodec.train.entropy` fits them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from aecodec.errors import ModelError
from aecodec.format.hashed import HASH_CHARS, read_hashed, write_hashed

SPAN = 255
"""Coded values lie in ``-SPAN..SPAN`` (prediction errors of int8 symbols always do)."""
GRID = 16
"""Steps and scales lie on the grid ``2 ** (j / GRID)``; ``j`` enters the context."""
CTX_CLIP = 63
"""Context magnitudes are clipped to ``0..CTX_CLIP`` before the ``L`` lookup."""
TABLE_OCTAVE = 4
"""Tables per doubling of the Laplace scale."""
_ARRAYS = ("pmf", "L", "LA", "LS", "PM", "PB", "RA", "RS", "ROW", "RP", "RN", "model_sha")


@dataclass(frozen=True, eq=False)
class Tables:
    """Fitted entropy-model parameters (all integers but ``pmf``), see the module docstring.

    ``pmf [K, 2 * SPAN + 1]`` float64 probabilities; ``L [CTX_CLIP + 1]``; latent ``LA, PM, PB
    [C]`` and ``LS`` (scalar); residual ``RA, RP [256]``, ``ROW [rows]``, ``RS, RN`` (scalars);
    ``model_sha``: the weights the latent part was fitted for; ``sha256`` of the file.
    """

    arrays: dict[str, np.ndarray]
    sha256: str = ""
    _models: list[Any] = field(default_factory=list, repr=False)
    _i32: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def i32(self, key: str) -> np.ndarray:
        """``self[key]`` as int32 (cached; the context sums stay far inside int32)."""
        if key not in self._i32:
            self._i32[key] = np.asarray(self.arrays[key], dtype=np.int32)
        return self._i32[key]

    @property
    def tables(self) -> int:
        return int(self.arrays["pmf"].shape[0])

    @property
    def channels(self) -> int:
        return int(self.arrays["LA"].shape[0])

    @property
    def model_sha(self) -> str:
        return bytes(self.arrays["model_sha"]).decode("ascii")

    def models(self) -> list[Any]:
        """One ``constriction`` categorical model per table (built once)."""
        if not self._models:
            import constriction

            self._models.extend(constriction.stream.model.Categorical(p, perfect=False)
                                for p in self.arrays["pmf"])
        return self._models

    @property
    def log2p(self) -> np.ndarray:
        """``-log2 pmf`` ``[K, 2 * SPAN + 1]`` float32: ideal code lengths in bits (rate
        search; cached)."""
        if "log2p" not in self._i32:
            self._i32["log2p"] = _neg_log2(self.arrays["pmf"]).astype(np.float32)
        return self._i32["log2p"]


def _neg_log2(pmf: np.ndarray) -> np.ndarray:
    return np.asarray(-np.log2(np.maximum(pmf, 2.0 ** -24)))


def save_tables(arrays: dict[str, np.ndarray], out_dir: Path) -> Path:
    """Write ``arrays`` as ``out_dir/ans-<sha12>.npz`` (sha256 of the file's bytes)."""
    missing = set(_ARRAYS) - set(arrays)
    if missing:
        raise ValueError(f"save_tables() misses arrays {sorted(missing)}")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(arrays[k]) for k in _ARRAYS})  # type: ignore[arg-type]
    return write_hashed(buf.getvalue(), out_dir, stem="ans", suffix=".npz")


@lru_cache(maxsize=8)
def load_tables(path: Path) -> Tables:
    """Load and check a tables file; :class:`ModelError` if it is tampered or malformed."""
    data, sha = read_hashed(path, what="entropy tables")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in _ARRAYS}
    except (ValueError, KeyError, OSError) as exc:
        raise ModelError(f"{path}: malformed entropy tables ({exc})") from None
    pmf = arrays["pmf"]
    if (pmf.ndim != 2 or not 0 < pmf.shape[0] <= 256 or pmf.shape[1] != 2 * SPAN + 1
            or not np.all(np.isfinite(pmf))):
        raise ModelError(f"{path}: pmf of shape {pmf.shape} is not [K <= 256, {2 * SPAN + 1}]")
    return Tables(arrays=arrays, sha256=sha)


def find_tables(*, model_sha: str, dirs: list[Path]) -> Tables | None:
    """The tables fitted for the weights ``model_sha`` (full hex), or None."""
    for d in dirs:
        for path in sorted(d.glob("ans-*.npz")) if d.is_dir() else []:
            tables = load_tables(path.resolve())
            if tables.model_sha == model_sha:
                return tables
    return None


def tables_by_sha(prefix: str, *, dirs: list[Path]) -> Tables:
    """The tables file ``ans-<prefix>*.npz``; :class:`ModelError` if absent."""
    for d in dirs:
        for path in sorted(d.glob(f"ans-{prefix[:HASH_CHARS]}*.npz")) if d.is_dir() else []:
            tables = load_tables(path.resolve())
            if tables.sha256.startswith(prefix):
                return tables
    raise ModelError(f"entropy tables ans-{prefix} not found in {', '.join(map(str, dirs))}")
