"""The ``.aec`` container, versions 1 and 2: header, JSON metadata, CRC-checked chunks, end record.

The byte layout is specified in ``docs/format.md``; chunk payloads are opaque here. The two
versions differ only in how the metadata JSON is compressed: version 1 uses a plain zstd frame,
version 2 a zstd frame against the built-in raw-content dictionary :data:`META_DICT`. Writers
write :data:`FORMAT_VERSION` (2) unless told otherwise; readers read both. Readers
raise only :class:`~aecodec.errors.FormatError` (or a subclass) for any input bytes, never
allocate beyond the limits below, and give one-line messages that start with ``name`` (the
file name to report). Writers raise ``TypeError``/``ValueError`` for caller mistakes.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from aecodec.errors import CorruptChunkError, FormatError, UnsupportedVersionError
from aecodec.format.metablock import (  # noqa: F401 - part of the container's API
    FORMAT_VERSION,
    MAX_META_BLOCK,
    MAX_META_BYTES,
    META_DICT,
    VERSIONS,
    check_version,
    decode_meta,
    encode_meta,
)

if TYPE_CHECKING:
    from typing_extensions import Self

MAGIC = b"AEC\x00"
MAX_CHUNK_BYTES = 16 << 20  # one chunk payload
MAX_CHUNKS = 1 << 20

_HEADER = struct.Struct("<4sBBHI")  # magic, version, flags, M, CRC32 of the metadata block
_RECORD = struct.Struct("<II")  # payload length (0: end record), CRC32 (end: chunk count)
_READ_STEP = 1 << 20  # read in steps so a forged length cannot allocate ahead of the data

class AecFile(NamedTuple):
    """A decoded container: metadata and payloads in file order (``None``: failed CRC)."""

    meta: dict[str, Any]
    chunks: list[bytes | None]


class ChunkIndex(NamedTuple):
    """Where a payload lies: absolute ``offset`` in the file, ``length``, expected ``crc``."""

    offset: int
    length: int
    crc: int


class AecWriter:
    """Streaming writer: the header is written at once, then each :meth:`write_chunk`.

    As a context manager the end record is written only if the block exits without an
    exception, so an interrupted file stays detectably truncated. The caller owns
    ``fileobj``. ``version`` is the format version to write (1 or 2).
    """

    def __init__(
        self, fileobj: IO[bytes], meta: dict[str, Any], *, version: int = FORMAT_VERSION
    ) -> None:
        block = encode_meta(meta, version=version)
        self._f, self._count, self._written, self._closed = fileobj, 0, 0, False
        self._write(_HEADER.pack(MAGIC, version, 0, len(block), zlib.crc32(block)))
        self._write(block)

    def _write(self, data: bytes) -> None:
        self._f.write(data)
        self._written += len(data)

    def write_chunk(self, payload: bytes) -> None:
        """Append one payload of 1 to :data:`MAX_CHUNK_BYTES` bytes."""
        if self._closed:
            raise ValueError("write_chunk() on a closed AecWriter")
        if not 0 < len(payload) <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk length {len(payload)} outside 1..{MAX_CHUNK_BYTES}")
        if self._count >= MAX_CHUNKS:
            raise ValueError(f"more than {MAX_CHUNKS} chunks")
        self._write(_RECORD.pack(len(payload), zlib.crc32(payload)))
        self._write(bytes(payload))
        self._count += 1

    def close(self) -> int:
        """Write the end record (once) and return the total number of bytes written."""
        if not self._closed:
            self._write(_RECORD.pack(0, self._count))
            self._closed = True
        return self._written

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()


def write_aec(
    fileobj: IO[bytes],
    meta: dict[str, Any],
    chunks: Iterable[bytes],
    *,
    version: int = FORMAT_VERSION,
) -> int:
    """Write a complete container of format ``version`` to ``fileobj``; return its size."""
    writer = AecWriter(fileobj, meta, version=version)
    for payload in chunks:
        writer.write_chunk(payload)
    return writer.close()


def pack(
    meta: dict[str, Any], chunks: Iterable[bytes], *, version: int = FORMAT_VERSION
) -> bytes:
    """Return a complete container of format ``version`` as bytes."""
    buf = io.BytesIO()
    write_aec(buf, meta, chunks, version=version)
    return buf.getvalue()


def _read(f: IO[bytes], n: int) -> bytes:
    """Read up to ``n`` bytes, fewer only at end of file."""
    parts, left = [], n
    while left > 0:
        part = f.read(min(left, _READ_STEP))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_exact(f: IO[bytes], n: int, name: str, what: str) -> bytes:
    data = _read(f, n)
    if len(data) != n:
        raise FormatError(f"{name}: truncated ({what} cut short)")
    return data


def read_header(fileobj: IO[bytes], *, name: str = "<stream>") -> tuple[dict[str, Any], int]:
    """Read and check the fixed header and the metadata block.

    Returns
    -------
    meta : dict
        The decoded metadata object.
    offset : int
        Offset of the first chunk record from the start of the container.
    """
    head = _read(fileobj, _HEADER.size)
    if not head:
        raise FormatError(f"{name}: not an .aec file (empty)")
    if head[:4] != MAGIC[: len(head)]:
        raise FormatError(f"{name}: not an .aec file (bad magic {head[:4]!r})")
    if len(head) < _HEADER.size:
        raise FormatError(f"{name}: truncated (header cut short)")
    _, version, flags, size, crc = _HEADER.unpack(head)
    if version not in VERSIONS:
        raise UnsupportedVersionError(
            f"{name}: unsupported format version {version} "
            f"(this build reads {VERSIONS[0]}-{VERSIONS[-1]})"
        )
    if flags:
        raise FormatError(
            f"{name}: unknown header flags 0x{flags:02x} (version {version} has none)"
        )
    if size == 0:
        raise FormatError(f"{name}: metadata length 0 is invalid")
    block = _read_exact(fileobj, size, name, "metadata")
    if zlib.crc32(block) != crc:
        raise FormatError(f"{name}: metadata corrupted (CRC mismatch)")
    return decode_meta(block, name, version=version), _HEADER.size + size


def _record(f: IO[bytes], name: str, count: int) -> tuple[int, int]:
    """Read the record after ``count`` chunks: ``(length, crc)``, or ``(0, count)`` at the end."""
    head = _read(f, _RECORD.size)
    if not head:
        raise FormatError(f"{name}: truncated (end record missing)")
    if len(head) < _RECORD.size:
        raise FormatError(f"{name}: truncated (chunk {count + 1} header cut short)")
    length, value = _RECORD.unpack(head)
    if length == 0 and value != count:
        raise FormatError(f"{name}: end record says {value} chunks, found {count}")
    if length > MAX_CHUNK_BYTES:
        raise FormatError(f"{name}: chunk length {length} exceeds limit {MAX_CHUNK_BYTES}")
    if length and count >= MAX_CHUNKS:
        raise FormatError(f"{name}: more than {MAX_CHUNKS} chunks")
    return length, value


def _corrupt(name: str, position: int, count: int) -> CorruptChunkError:
    return CorruptChunkError(
        f"{name}: chunk {position + 1} of {count} is corrupted (CRC mismatch)",
        index=position,
        count=count,
    )


def scan_chunks(
    fileobj: IO[bytes], *, name: str = "<stream>", partial: bool = False
) -> tuple[dict[str, Any], list[ChunkIndex]]:
    """Index a container without reading payloads (``fileobj`` must be seekable).

    Checks the whole structure (limits, payloads within the file, end record count, no
    trailing bytes) but not payload CRCs: :func:`read_chunk` checks those. ``partial``: a
    stream truncated after its header gives the chunks that are whole instead of an error.

    Returns
    -------
    meta : dict
        The decoded metadata object.
    index : list of ChunkIndex
        One entry per chunk in file order, with absolute payload offsets.
    """
    if not fileobj.seekable():
        raise ValueError("scan_chunks() needs a seekable file object")
    start = fileobj.tell()
    end = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(start)
    meta, pos = read_header(fileobj, name=name)
    pos += start
    index: list[ChunkIndex] = []
    while True:
        if partial and pos + _RECORD.size > end:
            return meta, index  # truncated at or inside a chunk header
        length, crc = _record(fileobj, name, len(index))
        pos += _RECORD.size
        if length == 0:
            break
        if pos + length > end:
            if partial:
                return meta, index
            raise FormatError(f"{name}: truncated (chunk {len(index) + 1} payload cut short)")
        index.append(ChunkIndex(offset=pos, length=length, crc=crc))
        pos = fileobj.seek(pos + length)
    if end > pos:
        raise FormatError(f"{name}: {end - pos} trailing bytes after end record")
    return meta, index


def read_chunk(
    fileobj: IO[bytes], index: ChunkIndex, *, name: str, position: int, count: int
) -> bytes:
    """Read one payload located by :func:`scan_chunks`; :class:`CorruptChunkError` on bad CRC.

    ``position`` (0-based) and ``count`` (chunks in the file) are for the error only.
    """
    fileobj.seek(index.offset)
    payload = _read_exact(fileobj, index.length, name, f"chunk {position + 1} payload")
    if zlib.crc32(payload) != index.crc:
        raise _corrupt(name, position, count)
    return payload


def read_aec(fileobj: IO[bytes], *, name: str = "<stream>", ignore_errors: bool = False) -> AecFile:
    """Read a whole container sequentially, to the end of ``fileobj`` (pipes work).

    Parameters
    ----------
    ignore_errors : bool
        If true, a chunk that fails its CRC becomes ``None`` instead of raising.

    Structural errors are raised before any CRC failure; then :class:`CorruptChunkError`
    names the first chunk that fails its CRC, unless ``ignore_errors``.
    """
    meta, _ = read_header(fileobj, name=name)
    chunks: list[bytes | None] = []
    while True:
        length, crc = _record(fileobj, name, len(chunks))
        if length == 0:
            break
        payload = _read_exact(fileobj, length, name, f"chunk {len(chunks) + 1} payload")
        chunks.append(payload if zlib.crc32(payload) == crc else None)
    trailing = 0
    while part := fileobj.read(_READ_STEP):
        trailing += len(part)
    if trailing:
        raise FormatError(f"{name}: {trailing} trailing bytes after end record")
    if None in chunks and not ignore_errors:
        raise _corrupt(name, chunks.index(None), len(chunks))
    return AecFile(meta=meta, chunks=chunks)


def unpack(data: bytes, *, name: str = "<bytes>", ignore_errors: bool = False) -> AecFile:
    """Read a complete container from bytes; see :func:`read_aec`."""
    return read_aec(io.BytesIO(data), name=name, ignore_errors=ignore_errors)
