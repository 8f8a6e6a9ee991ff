"""The public API: what ``import aecodec`` offers (see ``aecodec/__init__.py``).

Thin wrappers over the pipeline, taking plain values: paths as ``str`` or ``os.PathLike``,
audio as float numpy arrays ``[samples]`` (mono) or ``[samples, channels]`` in [-1, 1].
Every failure a caller can cause is an :class:`aecodec.AecError` with a one-line message.
Nothing here imports torch: the networks run in numpy (torch is only for training).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from aecodec.errors import AecError, InputError

PathLike = str | os.PathLike[str]
DEFAULT_KBPS = 6.0


def _audio(audio: np.ndarray, rate: int) -> Any:
    from aecodec.dsp.audio import Audio, check_finite, check_rate

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"audio of shape {np.shape(audio)} is not [samples] or "
                         "[samples, channels] with samples > 0")
    check_finite(x, name="audio")
    check_rate(int(rate), name="audio")
    return Audio(samples=np.ascontiguousarray(x), rate=int(rate))


def encode(audio: np.ndarray, rate: int, *, kbps: float = DEFAULT_KBPS,
           mono: bool = False) -> bytes:
    """Encode audio ``[samples]`` or ``[samples, channels]`` at ``rate`` Hz to ``.aec`` bytes
    at ``kbps`` (actual bitrate, header included; default 6)."""
    from aecodec.codec.encode import encode_audio

    return encode_audio(_audio(audio, rate), kbps=kbps, mono=mono).to_bytes()


def decode(data: bytes, *, rate: int | None = None) -> tuple[np.ndarray, int]:
    """``.aec`` bytes -> (float32 audio ``[samples, channels]``, rate); ``rate``: resample the
    output to it (default: the source's rate)."""
    from aecodec.codec.decode import decode_audio

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() takes bytes, got {type(data).__name__}")
    audio, out_rate, _ = decode_audio(bytes(data), rate=rate)
    return audio, out_rate


def encode_file(src: PathLike, dst: PathLike, *, kbps: float = DEFAULT_KBPS,
                mono: bool = False, force: bool = False) -> dict[str, Any]:
    """Encode the audio file ``src`` to ``dst`` (written atomically; an existing ``dst`` only
    with ``force``). Returns ``{"input", "output", "bytes", "seconds", "kbps", "wall_s"}``."""
    from aecodec.files.ops import encode_file as run

    return run(Path(src), Path(dst), kbps=kbps, mono=mono, force=force)


def decode_file(src: PathLike, dst: PathLike, *, rate: int | None = None,
                subtype: str | None = None, start: float = 0.0, duration: float | None = None,
                force: bool = False) -> dict[str, Any]:
    """Decode the ``.aec`` file ``src`` to ``dst``, in the format of its suffix (WAV, FLAC,
    Ogg, ...; ``subtype`` None: PCM_16 where the format has it), ``start``/``duration`` in
    seconds decode only part. Returns ``{"input", "output", "rate", "channels", "frames",
    ...}``."""
    from aecodec.files.ops import decode_file as run

    return run(Path(src), Path(dst), rate=rate, subtype=subtype, start=start,
               duration=duration, force=force)


def classify(src: PathLike, *, model: PathLike | None = None) -> dict[str, Any]:
    """The music genre of an audio or ``.aec`` file (a ``.aec`` is read as its latent, not
    decoded): ``{"file", "label", "probability", "top", "input"}``. ``model``: a classifier
    file or id (default: the shipped one)."""
    from aecodec.genre.head import classify_file, find_classifier, load_classifier

    path = Path(src)
    if not path.is_file():
        raise InputError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    head, meta = load_classifier(find_classifier(None if model is None else str(model)))
    return classify_file(path, head=head, meta=meta)


def info(src: PathLike) -> dict[str, Any]:
    """What a ``.aec`` file holds: its metadata plus ``bytes``, ``seconds``, ``kbps`` (actual)
    and ``chunks``."""
    from aecodec.format.meta import file_info

    return file_info(Path(src))


__all__ = ["AecError", "classify", "decode", "decode_file", "encode", "encode_file", "info"]
