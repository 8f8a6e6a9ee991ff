"""Audio I/O, validation, mix-down and resampling.

Everything here works on float32 numpy arrays shaped ``[frames, channels]`` (as python-soundfile
returns them) or ``[samples]`` for mono.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, BinaryIO, NamedTuple

import numpy as np
import soundfile as sf

from aecodec.errors import InputError

MIN_RATE = 8_000
"""Lowest input sample rate accepted, in Hz."""
MAX_RATE = 192_000
"""Highest input sample rate accepted, in Hz."""
MAX_CHANNELS = 64
"""Most channels accepted in an input file."""
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")
"""File suffixes taken as audio when a folder is searched (soundfile / libsndfile reads them)."""


class Audio(NamedTuple):
    """Decoded audio.

    Attributes
    ----------
    samples : np.ndarray
        float32 ``[frames, channels]`` in [-1, 1] (floats beyond are kept).
    rate : int
        Sample rate in Hz.
    subtype : str
        soundfile's subtype of the source (``"PCM_16"``, ``"FLOAT"``, ...), informational.
    """

    samples: np.ndarray
    rate: int
    subtype: str = "FLOAT"

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def check_rate(rate: int, *, name: str) -> None:
    """Raise :class:`InputError` unless ``MIN_RATE <= rate <= MAX_RATE``."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"{name}: sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")


def _label(path: str | os.PathLike[str] | BinaryIO | IO[bytes], name: str | None) -> str:
    return name or (os.fspath(path) if isinstance(path, (str, os.PathLike)) else "<stream>")


def open_audio(path: str | os.PathLike[str] | BinaryIO | IO[bytes], *,
               name: str | None = None) -> sf.SoundFile:
    """Open an audio file for block-wise reading after checking what can be checked up front.

    Raises :class:`InputError` for a missing file, a directory, an empty or non-audio file, an
    absurd sample rate or channel count, and zero-length audio. The caller closes the file.
    """
    label = _label(path, name)
    if isinstance(path, (str, os.PathLike)):
        if not os.path.exists(path):
            raise InputError(f"{label}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{label}: is a directory, not an audio file")
        if not os.path.isfile(path):
            raise InputError(f"{label}: not a regular file (a pipe or device: read it from "
                             "stdin with '-')")
        if os.path.getsize(path) == 0:
            raise InputError(f"{label}: empty file (0 bytes)")
        if not os.access(path, os.R_OK):
            raise InputError(f"{label}: cannot read it (permission denied)")
    try:
        with quiet_stderr():  # libmpg123 prints "Note: Illegal Audio-MPEG-Header" on junk
            f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "not a regular file" in detail or "does not exist" in detail:
            detail = "format not recognised, or the data is damaged"  # libsndfile's own text
        raise InputError(f"{label}: not a readable audio file ({detail})") from None
    try:
        check_rate(int(f.samplerate), name=label)
        if not 1 <= f.channels <= MAX_CHANNELS:
            raise InputError(f"{label}: {f.channels} channels is outside 1..{MAX_CHANNELS}")
        if f.frames <= 0:
            raise InputError(f"{label}: contains no audio (zero-length)")
    except InputError:
        f.close()
        raise
    return f


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send what C libraries print on file descriptor 2 to /dev/null inside the block (our
    own errors are raised, not printed, so nothing of ours is lost)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def iter_blocks(f: sf.SoundFile, *, name: str, blocksize: int = 1 << 16) -> Iterator[np.ndarray]:
    """float32 ``[n, channels]`` blocks of an open file; :class:`InputError` on NaN/inf or a
    read failure (e.g. a truncated compressed stream)."""
    while True:
        try:
            block = f.read(blocksize, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
            raise InputError(f"{name}: read failed ({str(exc).splitlines()[0]})") from None
        if len(block) == 0:
            return
        check_finite(block, name=name)
        yield block


def check_finite(samples: np.ndarray, *, name: str) -> None:
    """Raise :class:`InputError` naming how many of ``samples`` are NaN or infinite."""
    finite = np.isfinite(samples)
    if not finite.all():
        raise InputError(f"{name}: {int(finite.size - finite.sum())} samples are NaN or infinite")


def read_audio(path: str | os.PathLike[str] | BinaryIO | IO[bytes], *,
               name: str | None = None) -> Audio:
    """Read a whole file (WAV, FLAC, OGG/Vorbis/Opus, MP3, ...) into memory.

    Same checks as :func:`open_audio` plus NaN/inf samples (:class:`InputError`).
    """
    label = _label(path, name)
    with open_audio(path, name=label) as f:
        rate, subtype = int(f.samplerate), str(f.subtype)
        blocks = list(iter_blocks(f, name=label))
    if not blocks:
        raise InputError(f"{label}: contains no audio (zero-length)")
    data = np.concatenate(blocks)
    return Audio(samples=np.ascontiguousarray(data), rate=rate, subtype=subtype)


def mixdown(samples: np.ndarray) -> np.ndarray:
    """Mean over channels: ``[frames, channels]`` -> float32 ``[frames]``."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    return samples.mean(axis=1, dtype=np.float64).astype(np.float32)


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad axis 0 of ``x`` to exactly ``length``."""
    if x.shape[0] >= length:
        return x[:length]
    pad = [(0, length - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, pad)


SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
"""Output sample formats ``decode --subtype`` accepts."""


def write_wav(file: str | os.PathLike[str] | BinaryIO | IO[bytes], samples: np.ndarray, *, rate: int,
              subtype: str = "PCM_16") -> None:
    """Write ``[frames]`` or ``[frames, channels]`` float audio as WAV (clipped to [-1, 1])."""
    if subtype not in SUBTYPES:
        raise ValueError(f"subtype={subtype!r} not in {SUBTYPES}")
    data = np.clip(samples, -1.0, 1.0) if subtype != "FLOAT" else samples
    sf.write(file, data, rate, subtype=subtype, format="WAV")
