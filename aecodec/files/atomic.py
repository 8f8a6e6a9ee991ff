"""Atomic output: write beside the target, then rename; never clobber without ``force``."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from aecodec.errors import OutputError


def check_output(path: Path, *, force: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Raise :class:`OutputError` if ``path`` cannot or must not be written."""
    for src in inputs:
        if path.exists() and src.exists() and os.path.samefile(path, src):
            raise OutputError(f"{path}: output is the same file as the input")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists (use -f/--force to overwrite)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: directory {parent} is not writable")


def _umask() -> int:
    """The process umask (Linux: read from /proc without changing it; else set and restore)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _plain_mode(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` gives: an existing file's own mode, else
    0666 less the umask (mkstemp's 0600 would hide outputs from other users)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_output(path: Path, *, force: bool, inputs: tuple[Path, ...] = ()) -> Iterator[IO[bytes]]:
    """Yield a temp file in ``path``'s directory; on success rename it onto ``path``.

    On any exception (including ``KeyboardInterrupt``) the temp file is removed and ``path``
    is left as it was.
    """
    check_output(path, force=force, inputs=inputs)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output ({exc.strerror})") from None
    try:
        os.fchmod(fd, _plain_mode(path))
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if path.exists() and not force:  # appeared while we worked
            raise OutputError(f"{path}: already exists (use -f/--force to overwrite)")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
