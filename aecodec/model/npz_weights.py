"""Weights files without pickle: ``.npz`` archives of plain arrays plus a JSON header.

A weights file ``<model_id>-<sha256[:12]>.npz`` is a zip of ``.npy`` members, read with
``numpy.load(allow_pickle=False)`` so no object is ever unpickled::

    header             uint8 [n]   UTF-8 JSON: {"format": 1, "kind": ..., "model_id": ...,
                                   "config": {...}, "info": {...}, ...}
    state/<name>       float16 / float32 [...]   one member per parameter or buffer

``kind`` is ``"aecodec-weights"`` (codec models) or ``"aecodec-classifier"`` (genre heads,
whose header adds ``labels`` and ``codec``). The bytes are deterministic (members in sorted
order, stored, fixed time stamps), so converting the same weights twice gives the same hash.
Loading recomputes the sha256 of the bytes and refuses a file whose hash does not match its
name.

Model identity. A ``.aec`` file names its model by ``model_id`` and a sha256 prefix. For weights
first published as a torch ``.pt`` file and converted (``scripts/convert_weights.py``), the
header records ``"converted_from": {"file": <old name>, "sha256": <old full sha256>}``: that old
hash stays the model's identity (what ``.aec`` files, entropy tables and classifiers name), so
every existing file keeps decoding with the converted weights. This is an explicit, one-to-one
map kept in the converted file itself: :func:`find_npz` resolves an old hash to the file that
declares it. Weights saved as ``.npz`` from the start are identified by their own hash.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from aecodec.errors import ModelError
from aecodec.format.hashed import HASH_CHARS, read_hashed, write_hashed

NPZ_FORMAT = 1
DEFAULT_MODEL_ID = "aecodec-v1"
WEIGHTS_KIND = "aecodec-weights"
CLASSIFIER_KIND = "aecodec-classifier"
KINDS = (WEIGHTS_KIND, CLASSIFIER_KIND)
_HEADER = "header"
_STATE = "state/"
_NAME = re.compile(r"(?P<id>.+)-(?P<sha>[0-9a-f]{12})")
_DATE = (1980, 1, 1, 0, 0, 0)


def model_dirs() -> list[Path]:
    """Where weights are looked for: ``$AECODEC_MODELS``, the repo's ``models/``, and
    ``<prefix>/share/aecodec/models`` (non-editable installs)."""
    dirs = []
    if os.environ.get("AECODEC_MODELS"):
        dirs.append(Path(os.environ["AECODEC_MODELS"]))
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    dirs.append(Path(sys.prefix) / "share" / "aecodec" / "models")
    return dirs


def npz_bytes(header: Mapping[str, Any], state: Mapping[str, np.ndarray]) -> bytes:
    """The deterministic ``.npz`` bytes of ``header`` (JSON-able) and ``state`` arrays."""
    members = {_HEADER: np.frombuffer(json.dumps(header, sort_keys=True).encode(), np.uint8)}
    for name, arr in state.items():
        a = np.asarray(arr)
        if a.dtype.kind not in "fiub" or a.dtype.hasobject:
            raise ValueError(f"npz_bytes(): {name} has dtype {a.dtype}, not numeric")
        members[_STATE + name] = np.ascontiguousarray(a)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name + ".npy", date_time=_DATE)
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, members[name], allow_pickle=False)
    return buf.getvalue()


def save_npz(header: Mapping[str, Any], state: Mapping[str, np.ndarray], out_dir: Path, *,
             model_id: str) -> Path:
    """Write ``out_dir/<model_id>-<sha256[:12]>.npz`` atomically and return its path."""
    if header.get("kind") not in KINDS or header.get("model_id") != model_id:
        raise ValueError(f"save_npz() needs a header of a known kind for {model_id!r}")
    data = npz_bytes({**header, "format": NPZ_FORMAT}, state)
    return write_hashed(data, out_dir, stem=model_id, suffix=".npz")


def _npy(view: memoryview, *, member: str) -> np.ndarray:
    """One stored ``.npy`` member as an array over ``view`` (no copy). Object dtypes are
    refused (nothing is ever unpickled)."""
    length_bytes = 2 if len(view) > 6 and view[6] == 1 else 4  # 1.0: uint16; 2.0 on: uint32
    head = 8 + length_bytes + int.from_bytes(view[8:8 + length_bytes], "little")
    f = io.BytesIO(view[:head])  # magic, version, header: never more is copied
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"{member}: .npy version {version}")
    if dtype.hasobject:
        raise ValueError(f"{member}: object dtype")
    count = math.prod(shape)
    arr = np.frombuffer(view, dtype=dtype, count=count, offset=f.tell())
    return arr.reshape(shape, order="F" if fortran else "C")


def _members(data: bytearray) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` held in memory, by member name without ``.npy``.

    Stored members (how :func:`npz_bytes` writes them) become views of ``data`` (writable:
    it is a bytearray); their CRC is not checked again (the whole file's sha256 was). A
    compressed member is read through :func:`numpy.load` (``allow_pickle=False``)."""
    out: dict[str, np.ndarray] = {}
    view = memoryview(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                out[name] = np.load(io.BytesIO(zf.read(info)), allow_pickle=False)
                continue
            n, extra = struct.unpack_from("<HH", data, info.header_offset + 26)
            start = info.header_offset + 30 + n + extra  # the local header's fixed 30 bytes
            out[name] = _npy(view[start:start + info.file_size], member=info.filename)
    return out


def _parse(data: bytes, *, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        members = _members(bytearray(data))  # one copy: the arrays own writable memory
        header = json.loads(bytes(members[_HEADER]).decode())
        state = {k[len(_STATE):]: v for k, v in members.items() if k.startswith(_STATE)}
    except Exception as exc:  # noqa: BLE001 - any failure here means a bad weights file
        raise ModelError(f"{name}: not a valid aecodec weights file ({type(exc).__name__})"
                         ) from None
    if not isinstance(header, dict):
        raise ModelError(f"{name}: not a valid aecodec weights file (header)")
    return header, state


def load_npz(path: Path, *, kind: str = WEIGHTS_KIND) -> tuple[dict[str, Any],
                                                               dict[str, np.ndarray]]:
    """Read and verify a weights file -> (header, state arrays as stored).

    The header gains ``sha256`` (the model's identity: see the module docstring),
    ``file_sha256`` (the file's own hash) and ``path``. :class:`ModelError` if the file is
    missing, its hash does not match its name, or it is not a weights file of ``kind`` in a
    known format.
    """
    path = Path(path)
    what = "classifier" if kind == CLASSIFIER_KIND else "model weights"
    if path.suffix == ".pt" and path.is_file():
        raise ModelError(f"{path}: torch .pt weights are not read at run time; convert them "
                         f"with scripts/convert_weights.py (needs torch)")
    data, digest = read_hashed(path, what=what)
    m = _NAME.fullmatch(path.stem)
    assert m is not None  # read_hashed checked the name
    header, state = _parse(data, name=str(path))
    if header.get("kind") != kind:
        raise ModelError(f"{path}: not an aecodec {kind.removeprefix('aecodec-')} file")
    if header.get("format") != NPZ_FORMAT:
        raise ModelError(f"{path}: weights format {header.get('format')!r} unsupported")
    if header.get("model_id") != m["id"]:
        raise ModelError(f"{path}: holds model {header.get('model_id')!r}, not {m['id']!r}")
    header["sha256"] = identity(header, file_sha=digest)
    header["file_sha256"] = digest
    header["path"] = str(path)
    return header, state


def identity(header: Mapping[str, Any], *, file_sha: str) -> str:
    """The full sha256 that names a model: the converted-from file's, else the file's own."""
    src = header.get("converted_from")
    if isinstance(src, dict) and re.fullmatch(r"[0-9a-f]{64}", str(src.get("sha256", ""))):
        return str(src["sha256"])
    return file_sha


def converted_from(path: Path) -> str:
    """The old sha256 a converted weights file declares (header ``converted_from``), read
    without hashing the file; "" for weights saved as ``.npz`` from the start or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z[_HEADER]).decode())
    except Exception:  # noqa: BLE001 - unreadable: not a candidate
        return ""
    return identity(header, file_sha="") if isinstance(header, dict) else ""


def find_npz(model_id: str, *, sha_prefix: str = "", dirs: list[Path]) -> Path:
    """The ``.npz`` weights of ``model_id`` whose identity starts with ``sha_prefix`` (the
    newest by name when several match and no prefix is given).

    A prefix matches a converted file whose header declares it (:func:`identity`), or a file
    saved as ``.npz`` from the start whose name carries it (the full hash is checked when the
    file is loaded). :class:`ModelError` if none is found.
    """
    prefix = sha_prefix.lower()
    for d in dirs:
        hits = []
        for h in sorted(d.glob(f"{model_id}-*.npz")) if d.is_dir() else []:
            m = _NAME.fullmatch(h.stem)
            if m is None or m["id"] != model_id:
                continue
            old = converted_from(h)
            if old.startswith(prefix) if old else m["sha"].startswith(prefix[:HASH_CHARS]):
                hits.append(h)
        if hits:
            return hits[-1]
    where = ", ".join(str(d) for d in dirs)
    raise ModelError(f"model {model_id}{'@' + sha_prefix if sha_prefix else ''} not found "
                     f"in {where}")
