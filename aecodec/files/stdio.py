"""Pipes: ``-`` as stdin / stdout, FIFOs and devices such as ``/dev/stdout``.

Both the encoder (the metadata, written first, holds the length) and the decoder (it seeks to
the chunks it needs) need a seekable input, so a non-seekable input is **spooled** to a temporary
file in ``$TMPDIR`` in 1-MiB steps: memory stays flat, the disk holds one copy, removed at once.
Outputs that are streams (``-``, a FIFO, a character device) are written in order, never renamed
into place; a run that fails part-way leaves a detectably truncated stream (no end record, or a
WAV shorter than its header says), as any pipe would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from aecodec.errors import InputError, OutputError

STDIO = "-"
SPOOL_STEP = 1 << 20


def is_std(path: str | os.PathLike[str]) -> bool:
    """``-``: standard input or output."""
    return os.fspath(path) == STDIO


def is_stream_path(path: str | os.PathLike[str]) -> bool:
    """``-``, or an existing FIFO / character device / socket (``/dev/stdout``, ``/dev/null``)."""
    if is_std(path) or os.fspath(path) in ("/dev/stdout", "/dev/stdin") or \
            os.fspath(path).startswith(("/dev/fd/", "/proc/self/fd/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def label(path: str | os.PathLike[str], *, output: bool = False) -> str:
    """The name messages use: ``<stdin>`` / ``<stdout>`` for ``-``."""
    if is_std(path):
        return "<stdout>" if output else "<stdin>"
    return os.fspath(path)


@contextlib.contextmanager
def seekable_input(path: Path, *, suffix: str = "") -> Iterator[Path]:
    """``path`` itself if it is a regular file (or missing: the reader reports that), else a
    spooled temporary copy of stdin / the FIFO, removed on exit."""
    if not is_stream_path(path):
        yield path
        return
    name = label(path)
    fd, tmp = tempfile.mkstemp(prefix="aecodec-spool-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            src_cm = (contextlib.nullcontext(sys.stdin.buffer) if is_std(path)
                      else open(path, "rb"))  # noqa: SIM115 - entered just below
            try:
                with src_cm as src:
                    shutil.copyfileobj(src, out, SPOOL_STEP)
            except OSError as exc:
                raise InputError(f"{name}: read failed ({exc.strerror or exc})") from None
        if os.path.getsize(tmp) == 0:
            raise InputError(f"{name}: empty input (0 bytes)")
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def stream_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream for ``-`` (stdout) or a FIFO / device path; refuses a terminal."""
    if is_std(path):
        out = sys.stdout.buffer
        if out.isatty():
            raise OutputError("<stdout>: is a terminal; redirect it (> file) or pipe it (| ...)")
        yield out
        out.flush()
        return
    try:
        f = open(path, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise OutputError(f"{path}: cannot open ({exc.strerror or exc})") from None
    with f:
        if f.isatty():
            raise OutputError(f"{path}: is a terminal; redirect it (> file) or pipe it (| ...)")
        yield f


_PCM = {"PCM_16": (1, 2), "PCM_24": (1, 3), "PCM_32": (1, 4), "FLOAT": (3, 4)}


class WavStream:
    """A WAV written strictly in order (the length is known up front), for pipes.

    ``write`` takes float ``[n, channels]`` blocks; integer subtypes are clipped to [-1, 1].
    """

    def __init__(self, out: IO[bytes], *, rate: int, channels: int, frames: int,
                 subtype: str = "PCM_16") -> None:
        if subtype not in _PCM:
            raise OutputError(f"<stdout>: subtype {subtype} cannot be streamed "
                              f"(one of {', '.join(_PCM)})")
        tag, width = _PCM[subtype]
        self._out, self._subtype, self._width, self._channels = out, subtype, width, channels
        size = frames * channels * width
        riff = 36 + size
        if riff > 0xFFFFFFFF:  # readers take 0xFFFFFFFF as "to the end of the stream"
            riff, size = 0xFFFFFFFF, 0xFFFFFFFF
        out.write(b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " +
                  struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * channels * width,
                              channels * width, width * 8) + b"data" + struct.pack("<I", size))

    def write(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float64).reshape(-1, self._channels)
        if self._subtype == "FLOAT":
            data = x.astype("<f4").tobytes()
        else:
            scale = float(2 ** (8 * self._width - 1) - 1)
            ints = np.round(np.clip(x, -1.0, 1.0) * scale).astype("<i4")
            if self._width == 2:
                data = ints.astype("<i2").tobytes()
            elif self._width == 3:
                data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
            else:
                data = ints.tobytes()
        try:
            self._out.write(data)
        except BrokenPipeError:
            raise OutputError("<stdout>: the reading end of the pipe closed") from None
