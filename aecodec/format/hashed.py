"""Files named by their content hash: ``<id>-<sha256[:12]>.<ext>``.

Codec weights, classifiers and entropy tables are all shipped this way: the name says which
bytes the file must hold, so a tampered or truncated file is refused on load, and a ``.aec``
file that names weights by hash gets exactly those. Writing is atomic (temp file + rename).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from aecodec.errors import ModelError

HASH_CHARS = 12
"""Hex digits of the sha256 kept in a file name."""


def hashed_name(data: bytes, *, stem: str, suffix: str) -> str:
    """``<stem>-<sha256[:12]><suffix>`` for ``data``."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:HASH_CHARS]}{suffix}"


def write_hashed(data: bytes, out_dir: Path, *, stem: str, suffix: str) -> Path:
    """Write ``data`` atomically as ``out_dir/<stem>-<sha12><suffix>`` and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / hashed_name(data, stem=stem, suffix=suffix)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def read_hashed(path: Path, *, what: str) -> tuple[bytes, str]:
    """The bytes of a hash-named file and their full sha256 hex digest.

    :class:`ModelError` naming ``what`` (e.g. ``"model weights"``) if the file is missing or
    unreadable, or its sha256 does not start with the 12 hex digits after the last ``-`` of
    its name.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: {what} not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read {what} ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    claimed = path.stem.rsplit("-", 1)[-1] if "-" in path.stem else ""
    if not re.fullmatch(f"[0-9a-f]{{{HASH_CHARS}}}", claimed) or not digest.startswith(claimed):
        raise ModelError(f"{path}: sha256 {digest[:HASH_CHARS]} does not match the name "
                         f"(expected <id>-<sha256[:{HASH_CHARS}]>{path.suffix}); file tampered?")
    return data, digest
