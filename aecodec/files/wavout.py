"""Audio outputs through libsndfile without lost errors: RF64 past 4 GiB, disk-full as one line.

python-soundfile writes to a Python file object through cffi callbacks; an ``OSError`` raised
there (a full disk) is printed as "Exception ignored from cffi callback" and lost.
:class:`GuardedFile` keeps the first error a callback raises, answers libsndfile with a short
write (so it stops), and :func:`sound_writer` raises it afterwards as one
:class:`~aecodec.errors.OutputError`. A WAV whose data would pass the 4-GiB limit of RIFF sizes
is written as RF64 (EBU Tech 3306), which libsndfile, ffmpeg and sox read.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from aecodec.errors import OutputError

RIFF_LIMIT = 0xFFFFFFFF
"""Largest size a RIFF (WAV) header field can hold."""
_BYTES = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8, "PCM_U8": 1}


def wav_container(frames: int, channels: int, subtype: str, *, fmt: str = "WAV") -> str:
    """``"RF64"`` for a WAV whose samples (plus header room) would pass :data:`RIFF_LIMIT`,
    else ``fmt`` unchanged."""
    if fmt != "WAV":
        return fmt
    data = frames * channels * _BYTES.get(subtype, 4)
    return "RF64" if data + 4096 > RIFF_LIMIT else fmt


class GuardedFile:
    """A file object for libsndfile's callbacks that never raises into C (see module doc)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f, self._pos = f, 0
        self.error: BaseException | None = None

    def _failed(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc

    def write(self, data: bytes) -> int:
        if self.error is not None:
            return 0
        try:
            n = self._f.write(data)
        except BaseException as exc:  # noqa: BLE001 - re-raised by check() after the C call
            self._failed(exc)
            return 0
        self._pos += len(data)
        return len(data) if n is None else n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            self._pos = self._f.seek(offset, whence)
        except BaseException as exc:  # noqa: BLE001
            self._failed(exc)
        return self._pos

    def tell(self) -> int:
        try:
            self._pos = self._f.tell()
        except BaseException as exc:  # noqa: BLE001
            self._failed(exc)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n)
        except BaseException as exc:  # noqa: BLE001
            self._failed(exc)
            return b""

    def check(self, path: Path | str) -> None:
        """Raise what a callback met: ``OSError`` as :class:`OutputError`, others as they are."""
        exc, self.error = self.error, None
        if exc is None:
            return
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
        raise exc


@contextlib.contextmanager
def sound_writer(out: IO[bytes], *, path: Path | str, rate: int, channels: int, subtype: str,
                 frames: int, fmt: str = "WAV") -> Iterator[Callable[[np.ndarray], None]]:
    """Yield ``write(block [n, channels])`` into ``out`` (``frames`` in all, for the RF64
    choice); every callback error comes out once, as one line, after libsndfile returns."""
    import soundfile as sf

    guard = GuardedFile(out)
    fmt = wav_container(frames, channels, subtype, fmt=fmt)

    def write(block: np.ndarray) -> None:
        try:
            wav.write(block)
        except (sf.LibsndfileError, RuntimeError) as exc:
            guard.check(path)
            raise OutputError(f"{path}: cannot write output ({exc})") from None
        guard.check(path)

    try:
        wav = sf.SoundFile(guard, mode="w", samplerate=rate, channels=channels, subtype=subtype,
                           format=fmt)
    except (sf.LibsndfileError, RuntimeError) as exc:
        guard.check(path)
        raise OutputError(f"{path}: cannot write output ({exc})") from None
    try:
        yield write
    finally:
        with contextlib.suppress(Exception):
            wav.close()  # writes the header's sizes; its errors are in the guard
    guard.check(path)
