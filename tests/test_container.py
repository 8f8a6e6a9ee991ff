"""Tests of the ``.aec`` container: layout, round trips, every error, and parser fuzzing."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aecodec import container
from aecodec.container import (
    FORMAT_VERSION,
    MAGIC,
    MAX_CHUNK_BYTES,
    MAX_META_BYTES,
    AecFile,
    AecWriter,
    ChunkIndex,
    encode_meta,
    pack,
    read_aec,
    read_chunk,
    read_header,
    scan_chunks,
    unpack,
    write_aec,
)
from aecodec.errors import CorruptChunkError, FormatError, UnsupportedVersionError

META: dict[str, Any] = {"model": "tiny", "sample_rate": 44100, "shape": [2, 3], "note": "né"}
CHUNKS = [b"abc", bytes(10), b"hello world"]
NAME = "song.aec"

# A complete file written by hand, byte by byte, so the layout is pinned independently of the
# zstd library. The metadata block is a zstd frame holding one raw block: zstd magic 28b52ffd,
# frame header descriptor 0x20 (single segment, 1-byte content size), content size 7, block
# header 0x000039 (last block, raw, 7 bytes), then the JSON text.
GOLDEN_FRAME = bytes.fromhex("28b52ffd" + "20" + "07" + "390000") + b'{"v":1}'
GOLDEN = (
    b"AEC\x00"  # magic
    + b"\x01"  # format version
    + b"\x00"  # flags
    + b"\x10\x00"  # M = 16
    + bytes.fromhex("8fea2943")  # CRC32 of the metadata block, little-endian
    + GOLDEN_FRAME  # offset 12: metadata
    + b"\x05\x00\x00\x00"  # offset 28: chunk 1 length
    + bytes.fromhex("86a61036")  # CRC32(b"hello") = 0x3610a686
    + b"hello"  # offset 36: payload
    + b"\x00\x00\x00\x00"  # offset 41: end record
    + b"\x01\x00\x00\x00"  # chunk count
)


def sample() -> bytes:
    return pack(META, CHUNKS)


def forge(block: bytes, records: bytes = b"\x00" * 8) -> bytes:
    """A file with an arbitrary metadata block (correct CRC) and raw bytes after it."""
    header = MAGIC + struct.pack("<BBHI", 1, 0, len(block), zlib.crc32(block))
    return header + block + records


def record(payload: bytes) -> bytes:
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def payload_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, stop) of each payload, found with scan_chunks."""
    _, index = scan_chunks(io.BytesIO(data))
    return [(c.offset, c.offset + c.length) for c in index]


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: readable, not seekable, returns short reads."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), 7, len(self._data) - self._pos)
        buf[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


# ---------------------------------------------------------------- layout and round trips


def test_golden_file_decodes() -> None:
    assert unpack(GOLDEN) == AecFile(meta={"v": 1}, chunks=[b"hello"])
    meta, index = scan_chunks(io.BytesIO(GOLDEN))
    assert meta == {"v": 1}
    assert index == [ChunkIndex(offset=36, length=5, crc=0x3610A686)]
    assert read_header(io.BytesIO(GOLDEN)) == ({"v": 1}, 28)


def test_written_header_layout() -> None:
    data = pack({"v": 1}, [b"hello"])
    block = encode_meta({"v": 1})
    m = len(block)
    assert data[:4] == b"AEC\x00" == MAGIC
    assert data[4] == FORMAT_VERSION == 1
    assert data[5] == 0
    assert data[6:8] == struct.pack("<H", m)
    assert data[8:12] == struct.pack("<I", zlib.crc32(block))
    assert data[12 : 12 + m] == block
    assert data[12 + m :] == GOLDEN[28:]  # chunk record and end record, byte for byte
    assert read_header(io.BytesIO(data))[1] == 12 + m


def test_metadata_is_compact_sorted_utf8_json() -> None:
    raw = zstandard.ZstdDecompressor().decompress(encode_meta({"b": 1, "a": [1, 2], "é": "ü"}))
    assert raw == '{"a":[1,2],"b":1,"é":"ü"}'.encode()
    params = zstandard.get_frame_parameters(encode_meta({"v": 1}))
    assert params.content_size == len(b'{"v":1}')


@pytest.mark.parametrize("via", ["bytes", "path", "bytesio", "pipe"])
def test_round_trip(via: str, tmp_path: Path) -> None:
    if via == "bytes":
        got = unpack(pack(META, CHUNKS))
    elif via == "path":
        path = tmp_path / NAME
        with path.open("wb") as f:
            size = write_aec(f, META, CHUNKS)
        assert size == path.stat().st_size
        with path.open("rb") as f:
            got = read_aec(f, name=str(path))
        with path.open("rb") as f:
            meta, index = scan_chunks(f, name=str(path))
            chunks = [
                read_chunk(f, c, name=str(path), position=i, count=len(index))
                for i, c in enumerate(index)
            ]
        assert (meta, chunks) == (META, CHUNKS)
    elif via == "bytesio":
        buf = io.BytesIO()
        write_aec(buf, META, CHUNKS)
        buf.seek(0)
        got = read_aec(buf)
    else:
        got = read_aec(io.BufferedReader(NonSeekable(pack(META, CHUNKS))))
    assert got == AecFile(meta=META, chunks=[*CHUNKS])


def test_round_trip_no_chunks_and_offset_start() -> None:
    assert unpack(pack({}, [])) == AecFile(meta={}, chunks=[])
    buf = io.BytesIO(b"prefix" + sample())  # a container that starts mid-file
    buf.seek(6)
    meta, index = scan_chunks(buf)
    assert meta == META
    got = [read_chunk(buf, c, name=NAME, position=i, count=3) for i, c in enumerate(index)]
    assert got == CHUNKS


def test_streaming_writer() -> None:
    buf = io.BytesIO()
    with AecWriter(buf, META) as writer:
        for payload in CHUNKS:
            writer.write_chunk(payload)
    assert writer.close() == len(buf.getvalue())  # close() again is a no-op
    assert buf.getvalue() == sample()


def test_streaming_writer_interrupted_leaves_truncated_file() -> None:
    buf = io.BytesIO()
    with pytest.raises(KeyboardInterrupt), AecWriter(buf, META) as writer:
        writer.write_chunk(b"abc")
        raise KeyboardInterrupt
    with pytest.raises(FormatError, match=r"truncated \(end record missing\)"):
        unpack(buf.getvalue())


def test_writer_rejects_bad_input() -> None:
    buf = io.BytesIO()
    with pytest.raises(TypeError):
        AecWriter(buf, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_meta({"x": float("nan")})
    with pytest.raises(ValueError, match="metadata JSON"):
        encode_meta({"x": "a" * MAX_META_BYTES})
    writer = AecWriter(buf, {})
    with pytest.raises(ValueError, match="chunk length 0"):
        writer.write_chunk(b"")
    with pytest.raises(ValueError, match="exceeds|outside"):
        writer.write_chunk(bytes(MAX_CHUNK_BYTES + 1))
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write_chunk(b"x")
    with pytest.raises(ValueError, match="seekable"):
        scan_chunks(io.BufferedReader(NonSeekable(sample())))


# ---------------------------------------------------------------- every error, exact messages


def _cases() -> list[tuple[str, bytes, type[Exception], str]]:
    good = sample()
    m = struct.unpack_from("<H", good, 6)[0]
    body = good[: 12 + m]  # header + metadata, no records
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(
        b'{"a":"' + b"x" * (2 * MAX_META_BYTES) + b'"}'
    )
    huge_declared = bytes.fromhex("28b52ffda0") + struct.pack("<I", MAX_META_BYTES + 1)
    huge_declared += bytes.fromhex("010000")  # an empty last raw block
    return [
        (
            "magic",
            b"RIFF" + good[4:],
            FormatError,
            "song.aec: not an .aec file (bad magic b'RIFF')",
        ),
        ("empty", b"", FormatError, "song.aec: not an .aec file (empty)"),
        (
            "version",
            good[:4] + b"\x07" + good[5:],
            UnsupportedVersionError,
            "song.aec: unsupported format version 7 (this build reads 1)",
        ),
        ("flags", good[:5] + b"\x01" + good[6:], FormatError, "unknown header flags 0x01"),
        ("meta len 0", forge(b""), FormatError, "song.aec: metadata length 0 is invalid"),
        ("header", good[:9], FormatError, "song.aec: truncated (header cut short)"),
        ("meta cut", good[: 12 + m - 1], FormatError, "song.aec: truncated (metadata cut short)"),
        (
            "meta crc",
            good[:8] + bytes([good[8] ^ 1]) + good[9:],
            FormatError,
            "song.aec: metadata corrupted (CRC mismatch)",
        ),
        ("not zstd", forge(b"{}"), FormatError, "song.aec: metadata corrupted (bad zstd frame"),
        (
            "zstd tail",
            forge(encode_meta({}) + b"x"),
            FormatError,
            "song.aec: metadata corrupted (data after the zstd frame)",
        ),
        ("bomb", forge(bomb), FormatError, "song.aec: metadata corrupted"),
        (
            "declared size",
            forge(huge_declared),
            FormatError,
            f"song.aec: metadata size {MAX_META_BYTES + 1} exceeds limit {MAX_META_BYTES}",
        ),
        (
            "not utf8",
            forge(zstandard.ZstdCompressor().compress(b'{"a":"\xff"}')),
            FormatError,
            "song.aec: metadata corrupted (not UTF-8 JSON)",
        ),
        (
            "not json",
            forge(zstandard.ZstdCompressor().compress(b"{nope")),
            FormatError,
            "not UTF-8 JSON",
        ),
        (
            "nan",
            forge(zstandard.ZstdCompressor().compress(b'{"a":NaN}')),
            FormatError,
            "not UTF-8 JSON",
        ),
        (
            "deep",
            forge(zstandard.ZstdCompressor().compress(b"[" * 100_000 + b"]" * 100_000)),
            FormatError,
            "song.aec: metadata corrupted (not UTF-8 JSON)",
        ),
        (
            "list",
            forge(zstandard.ZstdCompressor().compress(b"[1]")),
            FormatError,
            "song.aec: metadata is a JSON list, not an object",
        ),
        (
            "chunk 3 header",
            body + record(b"a") + record(b"b") + b"\x05\x00",
            FormatError,
            "song.aec: truncated (chunk 3 header cut short)",
        ),
        (
            "payload cut",
            body + record(b"abc")[:-1],
            FormatError,
            "song.aec: truncated (chunk 1 payload cut short)",
        ),
        ("no end", body + record(b"a"), FormatError, "song.aec: truncated (end record missing)"),
        (
            "huge length",
            body + b"\xff\xff\xff\xff" + b"\x00" * 4 + b"x" * 20,
            FormatError,
            "song.aec: chunk length 4294967295 exceeds limit 16777216",
        ),
        (
            "trailing",
            good + b"\x00" * 12,
            FormatError,
            "song.aec: 12 trailing bytes after end record",
        ),
        (
            "count",
            body + b"".join(record(bytes([i + 1])) for i in range(4)) + struct.pack("<II", 0, 5),
            FormatError,
            "song.aec: end record says 5 chunks, found 4",
        ),
    ]


CASES = _cases()


@pytest.mark.parametrize(
    ("data", "exc", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_errors(data: bytes, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc) as info:
        unpack(data, name=NAME)
    assert type(info.value) is exc
    text = str(info.value)
    assert message in text and text.startswith(NAME) and "\n" not in text
    # the seeking reader finds the same problem with the same message
    with pytest.raises(exc) as info2:
        scan_chunks(io.BytesIO(data), name=NAME)
    assert str(info2.value) == text


def test_corrupt_chunk_message_and_index() -> None:
    data = bytearray(sample())
    spans = payload_spans(bytes(data))
    data[spans[1][0]] ^= 0x40
    with pytest.raises(CorruptChunkError) as info:
        unpack(bytes(data), name=NAME)
    assert str(info.value) == "song.aec: chunk 2 of 3 is corrupted (CRC mismatch)"
    assert (info.value.index, info.value.count) == (1, 3)
    _, index = scan_chunks(io.BytesIO(bytes(data)))  # the scan does not read payloads
    with pytest.raises(CorruptChunkError, match="chunk 2 of 3"):
        read_chunk(io.BytesIO(bytes(data)), index[1], name=NAME, position=1, count=3)


def test_structure_error_wins_over_crc_error() -> None:
    data = bytearray(sample())
    data[payload_spans(bytes(data))[0][0]] ^= 1
    with pytest.raises(FormatError, match="trailing") as info:
        unpack(bytes(data) + b"x")
    assert not isinstance(info.value, CorruptChunkError)


def test_ignore_errors_keeps_good_chunks() -> None:
    data = bytearray(sample())
    spans = payload_spans(bytes(data))
    data[spans[1][1] - 1] ^= 0xFF
    got = unpack(bytes(data), ignore_errors=True)
    assert got == AecFile(meta=META, chunks=[CHUNKS[0], None, CHUNKS[2]])
    with pytest.raises(FormatError, match="trailing"):  # structure errors still raise
        unpack(bytes(data) + b"\x00", ignore_errors=True)


def test_chunk_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "MAX_CHUNKS", 2)
    assert unpack(pack({}, [b"a", b"b"])).chunks == [b"a", b"b"]
    with pytest.raises(FormatError, match="more than 2 chunks"):
        unpack(forge(encode_meta({}), record(b"a") * 3 + struct.pack("<II", 0, 3)))
    with pytest.raises(ValueError, match="more than 2 chunks"):
        pack({}, [b"a"] * 3)


@pytest.mark.parametrize("length", [MAX_CHUNK_BYTES, MAX_CHUNK_BYTES + 1, 0xFFFFFFFF])
def test_forged_lengths_refused_before_allocating(length: int, tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(forge(encode_meta({}), struct.pack("<II", length, 0) + b"tiny"))
    for reader in (read_aec, scan_chunks):
        tracemalloc.start()
        try:
            with path.open("rb") as f, pytest.raises(FormatError, match="chunk 1|chunk length"):
                reader(f, name=NAME)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20, f"{reader.__name__} allocated {peak} bytes"


# ---------------------------------------------------------------- every truncation, every flip


@pytest.mark.parametrize("data", [GOLDEN, sample()], ids=["golden", "sample"])
def test_truncation_at_every_offset(data: bytes) -> None:
    for n in range(len(data)):
        for reader in (read_aec, scan_chunks):
            with pytest.raises(FormatError) as info:
                reader(io.BytesIO(data[:n]), name=NAME)
            assert ("truncated" if n else "empty") in str(info.value), (reader.__name__, n)


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_byte_flip_at_every_offset(mask: int) -> None:
    data = sample()
    spans = payload_spans(data)
    crc_fields = [(start - 4, start) for start, _ in spans]
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= mask
        with pytest.raises(FormatError) as info:
            unpack(bytes(bad), name=NAME)
        hits = [k for k, (a, b) in enumerate(spans) if a <= i < b]
        hits += [k for k, (a, b) in enumerate(crc_fields) if a <= i < b]
        if hits:
            assert isinstance(info.value, CorruptChunkError), (i, info.value)
            assert info.value.index == hits[0] and info.value.count == len(CHUNKS)
        else:
            assert not isinstance(info.value, CorruptChunkError), (i, info.value)
        assert "\n" not in str(info.value)


# ---------------------------------------------------------------- property tests

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)
METAS = st.dictionaries(st.text(max_size=8), JSON, max_size=5)
PAYLOADS = st.lists(st.binary(min_size=1, max_size=40), max_size=5)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_format_errors(data: bytes) -> None:
    """Both readers either succeed or raise a FormatError; never anything else."""
    try:
        unpack(data)
    except FormatError:
        pass
    try:
        scan_chunks(io.BytesIO(data))
    except FormatError:
        pass


@FUZZ
@given(meta=METAS, chunks=PAYLOADS)
def test_property_round_trip(meta: dict[str, Any], chunks: list[bytes]) -> None:
    data = pack(meta, chunks)
    assert unpack(data) == AecFile(meta=json.loads(json.dumps(meta)), chunks=[*chunks])


@FUZZ
@given(data=st.binary(max_size=200))
def test_property_random_bytes(data: bytes) -> None:
    _only_format_errors(data)
    _only_format_errors(MAGIC + b"\x01\x00" + data)  # get past the magic and version


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    data = bytearray(pack(draw(METAS), draw(PAYLOADS)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["set", "cut", "insert", "delete", "splice"]))
        if op == "set" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 8))]
        elif op == "splice":
            other = pack(draw(METAS), draw(PAYLOADS))
            data[i:] = other[draw(st.integers(0, len(other))) :]
    return bytes(data)


@FUZZ
@given(data=mutated_files())
def test_property_mutations_raise_only_format_errors(data: bytes) -> None:
    _only_format_errors(data)


@FUZZ
@given(
    m=st.integers(0, 0xFFFF),
    length=st.integers(0, 0xFFFFFFFF),
    value=st.integers(0, 0xFFFFFFFF),
    tail=st.binary(max_size=16),
)
def test_property_forged_fields(m: int, length: int, value: int, tail: bytes) -> None:
    block = encode_meta({"v": 1})
    _only_format_errors(MAGIC + struct.pack("<BBHI", 1, 0, m, zlib.crc32(block)) + block + tail)
    _only_format_errors(forge(block, struct.pack("<II", length, value) + tail))


@FUZZ
@given(meta=METAS, at=st.integers(0, 1 << 16), value=st.integers(0, 255), cut=st.booleans())
def test_property_damaged_metadata_frame(
    meta: dict[str, Any], at: int, value: int, cut: bool
) -> None:
    """The CRC matches, so the zstd and JSON decoders themselves see the damage."""
    block = bytearray(encode_meta(meta))
    at %= len(block)
    if cut:
        del block[at + 1 :]
    else:
        block[at] = value
    _only_format_errors(forge(bytes(block)))
