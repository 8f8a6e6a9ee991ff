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
import io
import os
import shutil
import stat
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

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
                      else _open_waiting(path, name=name))
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


WRITER_WAIT_S = 10.0
"""How long an input FIFO may wait for its writer before it is refused (never forever)."""


def _open_waiting(path: Path, *, name: str, wait: float = WRITER_WAIT_S) -> IO[bytes]:
    """Open a FIFO / device for reading without blocking forever: a FIFO whose writer does not
    appear within ``wait`` seconds is an :class:`InputError` (a plain ``open()`` would hang)."""
    import fcntl
    import time
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{name}: cannot open ({exc.strerror or exc})") from None
    first = b""
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                first = os.read(fd, SPOOL_STEP)
            except BlockingIOError:  # a writer holds it open: read the rest blocking
                break
            if first:
                break
            if time.monotonic() > deadline:  # still no writer (reads give EOF)
                raise InputError(f"{name}: no writer opened the pipe within {wait:g} s")
            time.sleep(0.05)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return _Prefixed(first, os.fdopen(fd, "rb"))


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``f`` (what :func:`_open_waiting` read while it waited)."""

    def __init__(self, head: bytes, f: IO[bytes]) -> None:
        self._head, self._f = head, f

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._f.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


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
        """Append samples ``[n, channels]``, converted as libsndfile converts them for a WAV
        file (so a pipe gets the same sample bytes as ``decode x.aec out.wav``)."""
        import soundfile as sf
        x = np.asarray(block).reshape(-1, self._channels)
        buf = io.BytesIO()
        with sf.SoundFile(buf, "w", samplerate=8000, channels=self._channels, format="RAW",
                          subtype=self._subtype, endian="LITTLE") as raw:
            raw.write(x)
        data = buf.getvalue()
        try:
            self._out.write(data)
        except BrokenPipeError:
            raise OutputError("<stdout>: the reading end of the pipe closed") from None
