"""Decoded-audio formats chosen by the output suffix, and tags carried from input to output.

``decode x.aec out.flac`` writes FLAC, ``out.ogg`` Ogg Vorbis, ``out.opus`` Ogg Opus, any other
suffix libsndfile writes its own format; no suffix (or stdout) gives WAV. Tags are the text
fields libsndfile reads and writes (:data:`aecodec.format.meta.TAG_KEYS`): read from the input
on encode, stored in the ``.aec`` metadata under ``"tags"`` (docs/format.md), written to the
output on decode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aecodec.errors import OutputError
from aecodec.format.meta import MAX_TAG_CHARS, TAG_KEYS

SUFFIX_FORMATS: dict[str, tuple[str, str | None]] = {
    ".wav": ("WAV", None), ".flac": ("FLAC", None), ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"), ".opus": ("OGG", "OPUS"), ".aiff": ("AIFF", None),
    ".aif": ("AIFF", None), ".au": ("AU", None), ".w64": ("W64", None), ".caf": ("CAF", None),
    ".mp3": ("MP3", "MPEG_LAYER_III"), ".rf64": ("RF64", None),
}
"""Output suffix -> (libsndfile format, subtype implied by the suffix or None)."""
_PCM_DEFAULT = "PCM_16"


def output_format(path: Path, subtype: str | None, *, stream: bool = False) -> tuple[str, str]:
    """``(format, subtype)`` to write ``path`` in; :class:`OutputError` for a suffix libsndfile
    cannot write or a subtype the format does not hold. ``stream``: stdout / a pipe (WAV)."""
    import soundfile as sf

    suffix = path.suffix.lower()
    if stream or not suffix:
        fmt, implied = "WAV", None
    elif suffix in SUFFIX_FORMATS:
        fmt, implied = SUFFIX_FORMATS[suffix]
    elif suffix[1:].upper() in sf.available_formats():
        fmt, implied = suffix[1:].upper(), None
    else:
        raise OutputError(f"{path}: cannot write {suffix} files (use .wav, .flac, .ogg, .opus, "
                          ".aiff, ... or - for WAV on stdout)")
    if fmt not in sf.available_formats():
        raise OutputError(f"{path}: this libsndfile cannot write {fmt} ({suffix})")
    chosen = subtype or implied or (_PCM_DEFAULT if _PCM_DEFAULT in sf.available_subtypes(fmt)
                                    else sf.default_subtype(fmt))
    if implied and subtype and subtype != implied:
        raise OutputError(f"{path}: --subtype {subtype} does not fit {suffix} ({implied})")
    if chosen is None or not sf.check_format(fmt, chosen):
        ok = ", ".join(sorted(sf.available_subtypes(fmt)))
        raise OutputError(f"{path}: --subtype {subtype} is not one {fmt} holds ({ok})")
    return fmt, chosen


def is_float(subtype: str) -> bool:
    """Whether samples beyond [-1, 1] survive the subtype (no clipping)."""
    return subtype in ("FLOAT", "DOUBLE")


def read_tags(f: Any) -> dict[str, str]:
    """The non-empty :data:`aecodec.format.meta.TAG_KEYS` of an open ``soundfile.SoundFile``."""
    tags: dict[str, str] = {}
    for key in TAG_KEYS:
        try:
            value = getattr(f, key)
        except (AttributeError, RuntimeError):
            continue
        if isinstance(value, str) and value.strip():
            tags[key] = value.strip()[:MAX_TAG_CHARS]
    return tags


def write_tags(f: Any, tags: dict[str, str]) -> None:
    """Set ``tags`` on a ``soundfile.SoundFile`` open for writing (formats without text
    fields ignore them)."""
    for key, value in tags.items():
        try:
            setattr(f, key, value)
        except (AttributeError, RuntimeError):
            pass
