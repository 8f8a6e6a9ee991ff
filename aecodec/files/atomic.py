"""Atomic output: write beside the target, then rename; never clobber without ``force``."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
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


TEMP_SUFFIX = ".aecpart"
"""Suffix of the temp files beside an output: ``.NAME.PID.XXXXXXXX.aecpart``."""
_TEMP = re.compile(r"\..*\.([0-9]{1,10})\.[A-Za-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
STALE_SECONDS = 60.0
"""A temp file of a process that no longer runs is removed once it is this old."""
NAME_MAX = 255
"""Longest file name (bytes) most file systems take."""


def temp_prefix(path: Path) -> str:
    """``.NAME.PID.``, with NAME cut so the whole temp name fits :data:`NAME_MAX` bytes."""
    room = NAME_MAX - len(f"..{os.getpid()}.") - 8 - len(TEMP_SUFFIX)
    raw = os.fsencode(path.name)[:room]
    while raw:
        try:
            name = os.fsdecode(raw)
            if os.fsencode(name) == raw:
                break
        except UnicodeError:
            pass
        raw = raw[:-1]
    return f".{os.fsdecode(raw)}.{os.getpid()}."


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove temp files of our own naming left in ``folder`` by a process that no longer runs
    (killed by SIGKILL or a power cut) and untouched for :data:`STALE_SECONDS`; returns them.

    Only names :func:`temp_prefix` makes are looked at, and a file whose process id is alive
    on this machine is kept (it may be another aecodec writing now).
    """
    removed: list[Path] = []
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            m = _TEMP.fullmatch(entry.name)
            if not m or not entry.is_file(follow_symlinks=False) or _running(int(m.group(1))):
                continue
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime >= STALE_SECONDS:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_output(path: Path, *, force: bool, inputs: tuple[Path, ...] = ()) -> Iterator[IO[bytes]]:
    """Yield a temp file in ``path``'s directory; on success rename it onto ``path``.

    On any exception (including ``KeyboardInterrupt`` and the SIGTERM/SIGHUP of
    :mod:`aecodec.files.signals`) the temp file is removed and ``path`` is left as it was; a
    temp file a SIGKILL left is removed by the next run into the folder (:func:`clean_stale`).
    """
    check_output(path, force=force, inputs=inputs)
    parent = path.parent if str(path.parent) else Path(".")
    clean_stale(parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=parent)
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
