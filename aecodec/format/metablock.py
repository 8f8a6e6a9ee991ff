"""The metadata block of the ``.aec`` container: compact JSON in one zstd frame.

Format versions 1 and 2 differ only here: version 1 uses a plain zstd frame, version 2 a zstd
frame against the built-in raw-content dictionary :data:`META_DICT` (docs/format.md).
Decoding never allocates past :data:`MAX_META_BYTES` whatever the frame declares.
"""

from __future__ import annotations

import json
from typing import Any

import zstandard

from aecodec.errors import FormatError

FORMAT_VERSION = 2  # what writers write by default
VERSIONS = (1, 2)  # what this build reads and can write
MAX_META_BYTES = 1 << 20  # decompressed metadata JSON
MAX_META_BLOCK = 0xFFFF  # compressed metadata: the u16 length field
_META_LEVEL = 19  # zstd level of the metadata frame (both versions)

META_DICT = (
    # A mono file at 22050 Hz, then a stereo file at 44100 Hz (10 s each, model aecodec-v1).
    b'{"channels":1,"chunk_frames":128,"codec":"aecodec","coder":"ans-c56d3fbe6ad2",'
    b'"frames":862,"hop":256,'
    b'"latent":[64,216],"length":220500,"model":{"id":"aecodec-v1","sha256":"fa354cc04e075567"},'
    b'"model_rate":22050,"n_fft":1024,"quant":{"dtype":"int8"},"rate":22050,"stereo":"none"}'
    b'{"channels":2,"chunk_frames":128,"codec":"aecodec","coder":"ans-c56d3fbe6ad2",'
    b'"frames":862,"hop":256,'
    b'"ild":{"bands":16,"frames":8,"step_db":2.0},"latent":[64,216],"length":441000,'
    b'"model":{"id":"aecodec-v1","sha256":"fa354cc04e075567"},'
    b'"model_rate":22050,"n_fft":1024,"quant":{"dtype":"int8"},"rate":44100,"stereo":"ild"}'
)
"""The zstd raw-content dictionary of version-2 metadata (597 bytes, CRC-32 ``0x1f9b2f43``).

Part of the file format, written out here on purpose: any change to these bytes makes
existing version-2 files unreadable, so it needs a new format version. It is two typical
metadata objects as compact key-sorted JSON, the most likely one (stereo) last, because zstd
codes matches near the end of the dictionary most cheaply. Values not in it still compress;
they only cost a few bytes more.
"""


def check_version(version: int) -> int:
    """``version`` if this build can write it, else ``ValueError`` naming it."""
    if type(version) is not int or version not in VERSIONS:
        raise ValueError(
            f"format version {version!r} cannot be written (this build writes "
            f"{VERSIONS[0]}-{VERSIONS[-1]})"
        )
    return version


def _meta_dict(version: int) -> zstandard.ZstdCompressionDict | None:
    """The zstd dictionary of a version's metadata frame (``None``: no dictionary).

    A fresh object per call (597 bytes, cheap): no zstd state is shared between calls or
    threads, and nothing is built at import.
    """
    if version == 1:
        return None
    return zstandard.ZstdCompressionDict(META_DICT, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _meta_compressor(version: int) -> zstandard.ZstdCompressor:
    """The zstd compressor of a version's metadata frame (content size in the frame header)."""
    d = _meta_dict(version)
    if d is None:
        return zstandard.ZstdCompressor(level=_META_LEVEL, write_content_size=True)
    return zstandard.ZstdCompressor(
        level=_META_LEVEL,
        dict_data=d,
        write_dict_id=False,
        write_content_size=True,
        write_checksum=False,
    )


def _meta_decompressor(version: int) -> zstandard.ZstdDecompressor:
    """The zstd decompressor of a version's metadata frame."""
    d = _meta_dict(version)
    return zstandard.ZstdDecompressor() if d is None else zstandard.ZstdDecompressor(dict_data=d)


def encode_meta(meta: dict[str, Any], *, version: int = FORMAT_VERSION) -> bytes:
    """Encode ``meta`` as the metadata block of format ``version``.

    Compact, key-sorted UTF-8 JSON in one zstd frame (level 19, content size recorded);
    version 2 compresses it against :data:`META_DICT`, version 1 without a dictionary.
    ``TypeError``/``ValueError`` if it is not a dict, not JSON (NaN included), too big, or
    ``version`` is not one this build writes.
    """
    check_version(version)
    if not isinstance(meta, dict):
        raise TypeError(f"encode_meta() needs a dict, got {type(meta).__name__}")
    raw = json.dumps(
        meta, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    if len(raw) > MAX_META_BYTES:
        raise ValueError(f"metadata JSON is {len(raw)} bytes > limit {MAX_META_BYTES}")
    block = _meta_compressor(version).compress(raw)
    if len(block) > MAX_META_BLOCK:
        raise ValueError(f"compressed metadata is {len(block)} bytes > limit {MAX_META_BLOCK}")
    return block


def decode_meta(block: bytes, name: str, *, version: int) -> dict[str, Any]:
    """Decode the metadata block of a format ``version`` this build reads (see encode_meta)."""
    try:
        params = zstandard.get_frame_parameters(block)
        if params.dict_id:  # neither version writes a dictionary id: a foreign dictionary
            raise FormatError(
                f"{name}: metadata corrupted (zstd frame needs dictionary {params.dict_id})"
            )
        # decompress() trusts a declared content size over max_output_size: check it first.
        size = params.content_size
        if size != zstandard.CONTENTSIZE_UNKNOWN and size > MAX_META_BYTES:
            raise FormatError(f"{name}: metadata size {size} exceeds limit {MAX_META_BYTES}")
        reader = _meta_decompressor(version)
        raw = reader.decompress(block, max_output_size=MAX_META_BYTES)
        tail = reader.decompressobj()
        tail.decompress(block)  # bounded: the first frame is now known to fit the cap
        if tail.unused_data:
            raise FormatError(f"{name}: metadata corrupted (data after the zstd frame)")
    except zstandard.ZstdError as exc:
        raise FormatError(f"{name}: metadata corrupted (bad zstd frame: {exc})") from None

    def no_constants(token: str) -> Any:
        raise ValueError(token)

    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (ValueError, RecursionError):  # includes UnicodeDecodeError, JSONDecodeError
        raise FormatError(f"{name}: metadata corrupted (not UTF-8 JSON)") from None
    if not isinstance(meta, dict):
        raise FormatError(f"{name}: metadata is a JSON {type(meta).__name__}, not an object")
    return meta
