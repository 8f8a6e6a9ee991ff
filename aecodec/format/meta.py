"""Container metadata of an aecodec stream: validation and reading, without torch.

Everything a file can be refused for before any model is loaded lives here, so error paths
(a missing, foreign, truncated or forged file) answer without importing torch.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from aecodec.coding.highband_layer import valid_meta as valid_highband_meta
from aecodec.coding.peakphase import valid_meta as valid_phase_meta
from aecodec.coding.stereo import BANDS, ILD_FRAMES, ILD_STEP_DB
from aecodec.coding.stereo_image import valid_meta as valid_image_meta
from aecodec.dsp.audio import MAX_CHANNELS, MAX_RATE, MIN_RATE
from aecodec.errors import FormatError, InputError
from aecodec.format import container

CODEC_NAME = "aecodec"
MIN_KBPS, MAX_KBPS = 0.5, 64.0
ILD_META = {"bands": BANDS, "frames": ILD_FRAMES, "step_db": ILD_STEP_DB}
"""Bitrates ``encode -b`` accepts."""
MAX_CHUNK_FRAMES = 1024
"""Most latent frames a chunk may declare (47.5 s; writers use 128): what one chunk's decode
may allocate is bounded by it, whatever the file claims."""
MAX_SECONDS = 24 * 3600
"""Longest input accepted (metadata validation refuses forged lengths beyond it)."""
TAG_KEYS = ("title", "artist", "album", "date", "genre", "comment", "tracknumber",
            "copyright", "license")
"""Text fields a file may carry in its ``"tags"`` (libsndfile's names; docs/format.md)."""
MAX_TAG_CHARS = 1024
"""Longest tag value stored (encoders cut longer values)."""


def valid_tags(tags: object) -> bool:
    """Whether a metadata ``"tags"`` value is well formed (docs/format.md)."""
    return (isinstance(tags, dict) and 0 < len(tags) <= len(TAG_KEYS)
            and all(k in TAG_KEYS and isinstance(v, str) and 0 < len(v) <= MAX_TAG_CHARS
                    for k, v in tags.items()))


def validate_meta(meta: dict[str, Any], *, name: str) -> None:
    """Refuse forged or foreign metadata before trusting any field of it."""
    def bad(what: str) -> FormatError:
        return FormatError(f"{name}: invalid metadata ({what})")

    if meta.get("codec") != CODEC_NAME:
        raise bad(f"codec {meta.get('codec')!r} is not {CODEC_NAME!r}")
    ints = {"rate": (MIN_RATE, MAX_RATE), "channels": (1, MAX_CHANNELS),
            "length": (1, MAX_RATE * MAX_SECONDS), "model_rate": (MIN_RATE, MAX_RATE),
            "n_fft": (16, 16384), "hop": (1, 8192), "frames": (1, 10**9),
            "chunk_frames": (1, MAX_CHUNK_FRAMES)}
    for key, (lo, hi) in ints.items():
        v = meta.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise bad(f"{key}={v!r} not an integer in {lo}..{hi}")
    lat = meta.get("latent")
    if (not isinstance(lat, list) or len(lat) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in lat)
            or not 1 <= lat[0] <= 4096 or not 1 <= lat[1] <= meta["frames"]):
        raise bad(f"latent shape {lat!r}")
    if meta["frames"] != model_rate_length(meta) // meta["hop"] + 1:
        raise bad(f"frames={meta['frames']} does not match length={meta['length']}")
    if meta["length"] / meta["rate"] > MAX_SECONDS:
        raise bad(f"duration {meta['length'] / meta['rate']:.0f} s exceeds {MAX_SECONDS} s")
    quant = meta.get("quant")
    if not isinstance(quant, dict) or quant.get("dtype") != "int8":
        raise bad(f"quantizer {quant!r}")
    coder = meta.get("coder")
    if coder != "zstd" and not (isinstance(coder, str) and re.fullmatch(r"ans-[0-9a-f]{12}", coder)):
        raise bad(f"coder {coder!r}")
    stereo = meta.get("stereo")
    if stereo not in ("none", "ild", "image") or (stereo == "ild" and (
            meta["channels"] != 2 or meta.get("ild") != ILD_META)):
        raise bad(f"stereo {stereo!r} with ild {meta.get('ild')!r}")
    if stereo == "image" and (meta["channels"] != 2 or not valid_image_meta(meta.get("image"))):
        raise bad(f"stereo image {meta.get('image')!r} with {meta['channels']} channels")
    if "phase" in meta and not valid_phase_meta(meta["phase"]):
        raise bad(f"phase layer {meta['phase']!r}")
    if "highband" in meta and not valid_highband_meta(meta["highband"], rate=meta["rate"]):
        raise bad(f"high-band layer {meta['highband']!r}")
    if "tags" in meta and not valid_tags(meta["tags"]):
        raise bad("tags are not short text fields")
    mod = meta.get("model")
    if (not isinstance(mod, dict) or not isinstance(mod.get("id"), str)
            or not isinstance(mod.get("sha256"), str)
            or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", mod["id"]) or ".." in mod["id"]
            or not re.fullmatch(r"[0-9a-f]{12,64}", mod["sha256"])):
        raise bad(f"model {mod!r}")


def model_rate_length(meta: dict[str, Any]) -> int:
    """Samples of the mono signal at the model rate (what the resampler produces)."""
    return math.ceil(meta["length"] * meta["model_rate"] / meta["rate"])


def read_meta(path: Path, *, name: str | None = None,
              partial: bool = False) -> tuple[dict[str, Any], list[container.ChunkIndex]]:
    """Validated metadata and chunk index of a ``.aec`` file (payload CRCs not checked).

    A missing file or a directory is an :class:`InputError` (exit 3, as for audio inputs);
    ``partial``: a truncated file gives its whole chunks (see ``container.scan_chunks``).
    """
    name = name or str(path)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a directory, not an .aec file")
    if not path.is_file():  # a FIFO with no writer would block open() forever
        raise InputError(f"{name}: not a regular file (a pipe or device: read it from stdin "
                         "with '-')")
    if not os.access(path, os.R_OK):
        raise InputError(f"{name}: cannot read it (permission denied)")
    with open(path, "rb") as f:
        meta, index = container.scan_chunks(f, name=name, partial=partial)
    validate_meta(meta, name=name)
    return meta, index


def file_info(path: Path, *, verify: bool = False) -> dict[str, Any]:
    """What a ``.aec`` file holds, checked as decode checks it before loading a model (chunk
    count, lengths; ``verify``: every chunk's CRC and streams too): its metadata plus
    ``file``, ``bytes``, ``seconds``, ``kbps`` (the ACTUAL bitrate, header included) and
    ``chunks``."""
    from aecodec.format.verify import check_count, verify_chunks
    meta, index = read_meta(path)
    check_count(meta, index, name=str(path))
    if verify:
        verify_chunks(Path(path), meta, index, name=str(path))
    size = Path(path).stat().st_size
    seconds = meta["length"] / meta["rate"]
    return {"file": str(path), "bytes": size, "seconds": round(seconds, 3),
            "kbps": round(size * 8 / seconds / 1000, 3), "chunks": len(index),
            **({"verified": True} if verify else {}), **meta}
