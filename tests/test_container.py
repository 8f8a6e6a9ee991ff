"""Tests of the ``.aec`` container: layout, round trips, every error, and parser fuzzing."""

from __future__ import annotations

import functools
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

from aecodec.errors import CorruptChunkError, FormatError, UnsupportedVersionError
from aecodec.format import container
from aecodec.format.container import (
    FORMAT_VERSION,
    MAGIC,
    MAX_CHUNK_BYTES,
    MAX_META_BYTES,
    META_DICT,
    VERSIONS,
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


# Metadata as the codec writes it for a 10 s stereo file (what META_DICT was made from), and
# for a 7 s one (values that are not in the dictionary).
TYPICAL: dict[str, Any] = {
    "channels": 2, "chunk_frames": 128, "codec": "aecodec", "coder": "ans-c56d3fbe6ad2",
    "frames": 862,
    "hop": 256, "ild": {"bands": 16, "frames": 8, "step_db": 2.0}, "latent": [64, 216],
    "length": 441000, "model": {"id": "aecodec-v1", "sha256": "fa354cc04e075567"},
    "model_rate": 22050, "n_fft": 1024, "quant": {"dtype": "int8"}, "rate": 44100,
    "stereo": "ild",
}  # fmt: skip
TYPICAL_7S = {**TYPICAL, "frames": 603, "latent": [64, 151], "length": 308700}

# A version-2 metadata block as written by this build for TYPICAL (zstd 1.5, level 19): its
# back references point into META_DICT, so it pins the dictionary that readers use.
GOLDEN_V2_BLOCK = bytes.fromhex("28b52ffd6040004d0000087b01003c43ea1202")


def sample(version: int = FORMAT_VERSION) -> bytes:
    return pack(META, CHUNKS, version=version)


def forge(block: bytes, records: bytes = b"\x00" * 8, *, version: int = FORMAT_VERSION) -> bytes:
    """A file with an arbitrary metadata block (correct CRC) and raw bytes after it."""
    header = MAGIC + struct.pack("<BBHI", version, 0, len(block), zlib.crc32(block))
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


@pytest.mark.parametrize("version", [1, 2])
def test_written_header_layout(version: int) -> None:
    data = pack({"v": 1}, [b"hello"], version=version)
    block = encode_meta({"v": 1}, version=version)
    m = len(block)
    assert data[:4] == b"AEC\x00" == MAGIC
    assert data[4] == version
    assert data[5] == 0
    assert data[6:8] == struct.pack("<H", m)
    assert data[8:12] == struct.pack("<I", zlib.crc32(block))
    assert data[12 : 12 + m] == block
    assert data[12 + m :] == GOLDEN[28:]  # chunk record and end record, byte for byte
    assert read_header(io.BytesIO(data))[1] == 12 + m


def test_writers_default_to_version_2() -> None:
    assert FORMAT_VERSION == 2 and VERSIONS == (1, 2)
    assert pack(META, CHUNKS) == sample(2) != sample(1)
    buf = io.BytesIO()
    write_aec(buf, META, CHUNKS)
    assert buf.getvalue() == sample(2)
    buf = io.BytesIO()
    AecWriter(buf, META).close()
    assert buf.getvalue()[4] == 2
    assert encode_meta(META) == encode_meta(META, version=2) != encode_meta(META, version=1)


def _meta_dict() -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(META_DICT, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


@pytest.mark.parametrize("version", [1, 2])
def test_metadata_is_compact_sorted_utf8_json(version: int) -> None:
    reader = zstandard.ZstdDecompressor(dict_data=_meta_dict() if version == 2 else None)
    block = encode_meta({"b": 1, "a": [1, 2], "é": "ü"}, version=version)
    assert reader.decompress(block) == '{"a":[1,2],"b":1,"é":"ü"}'.encode()
    params = zstandard.get_frame_parameters(encode_meta({"v": 1}, version=version))
    assert params.content_size == len(b'{"v":1}')
    assert (params.dict_id, params.has_checksum) == (0, False)


def test_meta_dict_is_pinned() -> None:
    """META_DICT is part of format version 2: changing it needs a new version."""
    assert (len(META_DICT), zlib.crc32(META_DICT)) == (597, 0x1f9b2f43)
    first, end = json.JSONDecoder().raw_decode(META_DICT.decode())
    assert json.loads(META_DICT[end:]) == TYPICAL  # the likeliest object comes last
    assert first["channels"] == 1 and first["stereo"] == "none"
    assert unpack(forge(GOLDEN_V2_BLOCK, version=2)).meta == TYPICAL
    spec = (Path(__file__).resolve().parents[1] / "docs" / "format.md").read_text("utf-8")
    assert f"\n{META_DICT[:end].decode()}\n{META_DICT[end:].decode()}\n" in spec


def test_version_2_metadata_is_small() -> None:
    for meta in (TYPICAL, TYPICAL_7S):
        v1, v2 = encode_meta(meta, version=1), encode_meta(meta, version=2)
        assert len(v2) <= 40 and len(v1) > 180, (meta["length"], len(v1), len(v2))
    assert len(encode_meta(TYPICAL)) < 25


def test_version_2_rejects_a_frame_made_with_another_dictionary() -> None:
    other = b'{"model":"tiny","sample_rate":48000,"shape":[1,2]}'
    raw = json.dumps(META, separators=(",", ":"), sort_keys=True).encode()
    frame = zstandard.ZstdCompressor(
        level=19,
        dict_data=zstandard.ZstdCompressionDict(other, dict_type=zstandard.DICT_TYPE_RAWCONTENT),
        write_dict_id=False,
    ).compress(raw)
    with pytest.raises(FormatError) as info:
        unpack(forge(frame, version=2), name=NAME)
    text = str(info.value)
    assert text.startswith(f"{NAME}: metadata corrupted (") and "\n" not in text
    with pytest.raises(FormatError, match=r"metadata corrupted \(bad zstd frame"):
        unpack(forge(encode_meta(TYPICAL, version=2), version=1), name=NAME)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("via", ["bytes", "path", "bytesio", "pipe"])
def test_round_trip(via: str, version: int, tmp_path: Path) -> None:
    if via == "bytes":
        got = unpack(pack(META, CHUNKS, version=version))
    elif via == "path":
        path = tmp_path / NAME
        with path.open("wb") as f:
            size = write_aec(f, META, CHUNKS, version=version)
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
        write_aec(buf, META, CHUNKS, version=version)
        buf.seek(0)
        got = read_aec(buf)
    else:
        got = read_aec(io.BufferedReader(NonSeekable(pack(META, CHUNKS, version=version))))
    assert got == AecFile(meta=META, chunks=[*CHUNKS])


def test_round_trip_no_chunks_and_offset_start() -> None:
    assert unpack(pack({}, [])) == AecFile(meta={}, chunks=[])
    buf = io.BytesIO(b"prefix" + sample())  # a container that starts mid-file
    buf.seek(6)
    meta, index = scan_chunks(buf)
    assert meta == META
    got = [read_chunk(buf, c, name=NAME, position=i, count=3) for i, c in enumerate(index)]
    assert got == CHUNKS


@pytest.mark.parametrize("version", [1, 2])
def test_streaming_writer(version: int) -> None:
    buf = io.BytesIO()
    with AecWriter(buf, META, version=version) as writer:
        for payload in CHUNKS:
            writer.write_chunk(payload)
    assert writer.close() == len(buf.getvalue())  # close() again is a no-op
    assert buf.getvalue() == sample(version)


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


@pytest.mark.parametrize("version", [0, 3, 255, -1, 2.0, "2", None])
def test_writers_refuse_unknown_versions(version: Any) -> None:
    message = rf"format version {version!r} cannot be written \(this build writes 1-2\)"
    for write in (
        lambda: pack(META, CHUNKS, version=version),
        lambda: write_aec(io.BytesIO(), META, CHUNKS, version=version),
        lambda: AecWriter(io.BytesIO(), META, version=version),
        lambda: encode_meta(META, version=version),
    ):
        with pytest.raises(ValueError, match=message):
            write()


# ---------------------------------------------------------------- every error, exact messages


def _cases(version: int) -> list[tuple[str, bytes, type[Exception], str]]:
    """Every error, in a file of format ``version`` (plain zstd frames are valid in both)."""
    forged = functools.partial(forge, version=version)
    good = sample(version)
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
            "song.aec: unsupported format version 7 (this build reads 1-2)",
        ),
        (
            "flags",
            good[:5] + b"\x01" + good[6:],
            FormatError,
            f"song.aec: unknown header flags 0x01 (version {version} has none)",
        ),
        ("meta len 0", forged(b""), FormatError, "song.aec: metadata length 0 is invalid"),
        ("header", good[:9], FormatError, "song.aec: truncated (header cut short)"),
        ("meta cut", good[: 12 + m - 1], FormatError, "song.aec: truncated (metadata cut short)"),
        (
            "meta crc",
            good[:8] + bytes([good[8] ^ 1]) + good[9:],
            FormatError,
            "song.aec: metadata corrupted (CRC mismatch)",
        ),
        ("not zstd", forged(b"{}"), FormatError, "song.aec: metadata corrupted (bad zstd frame"),
        (
            "zstd tail",
            forged(encode_meta({}, version=version) + b"x"),
            FormatError,
            "song.aec: metadata corrupted (data after the zstd frame)",
        ),
        ("bomb", forged(bomb), FormatError, "song.aec: metadata corrupted"),
        (
            "dictionary id",
            forged(DICT_ID_FRAME),
            FormatError,
            "song.aec: metadata corrupted (zstd frame needs dictionary 7)",
        ),
        (
            "declared size",
            forged(huge_declared),
            FormatError,
            f"song.aec: metadata size {MAX_META_BYTES + 1} exceeds limit {MAX_META_BYTES}",
        ),
        (
            "not utf8",
            forged(zstandard.ZstdCompressor().compress(b'{"a":"\xff"}')),
            FormatError,
            "song.aec: metadata corrupted (not UTF-8 JSON)",
        ),
        (
            "not json",
            forged(zstandard.ZstdCompressor().compress(b"{nope")),
            FormatError,
            "not UTF-8 JSON",
        ),
        (
            "nan",
            forged(zstandard.ZstdCompressor().compress(b'{"a":NaN}')),
            FormatError,
            "not UTF-8 JSON",
        ),
        (
            "deep",
            forged(zstandard.ZstdCompressor().compress(b"[" * 100_000 + b"]" * 100_000)),
            FormatError,
            "song.aec: metadata corrupted (not UTF-8 JSON)",
        ),
        (
            "list",
            forged(zstandard.ZstdCompressor().compress(b"[1]")),
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


# GOLDEN_FRAME with a dictionary id: frame header descriptor 0x21 (1-byte dictionary id 7).
DICT_ID_FRAME = bytes.fromhex("28b52ffd" + "21" + "07" + "07" + "390000") + b'{"v":1}'
CASES = [(f"v{v}-{c[0]}", *c[1:]) for v in VERSIONS for c in _cases(v)]


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


@pytest.mark.parametrize("data", [GOLDEN, sample(1), sample(2)], ids=["golden", "v1", "v2"])
def test_truncation_at_every_offset(data: bytes) -> None:
    for n in range(len(data)):
        for reader in (read_aec, scan_chunks):
            with pytest.raises(FormatError) as info:
                reader(io.BytesIO(data[:n]), name=NAME)
            assert ("truncated" if n else "empty") in str(info.value), (reader.__name__, n)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_byte_flip_at_every_offset(mask: int, version: int) -> None:
    data = sample(version)
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
@given(meta=METAS, chunks=PAYLOADS, version=st.sampled_from(VERSIONS))
def test_property_round_trip(meta: dict[str, Any], chunks: list[bytes], version: int) -> None:
    data = pack(meta, chunks, version=version)
    assert unpack(data) == AecFile(meta=json.loads(json.dumps(meta)), chunks=[*chunks])


@FUZZ
@given(data=st.binary(max_size=200))
def test_property_random_bytes(data: bytes) -> None:
    _only_format_errors(data)
    _only_format_errors(MAGIC + b"\x01\x00" + data)  # get past the magic and version
    _only_format_errors(MAGIC + b"\x02\x00" + data)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A file of either version (metadata: random or typical), damaged up to 4 times."""
    version = draw(st.sampled_from(VERSIONS))
    meta = draw(METAS | st.sampled_from([TYPICAL, TYPICAL_7S]))
    data = bytearray(pack(meta, draw(PAYLOADS), version=version))
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
            other = pack(draw(METAS), draw(PAYLOADS), version=draw(st.sampled_from(VERSIONS)))
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
    version=st.sampled_from(VERSIONS),
)
def test_property_forged_fields(m: int, length: int, value: int, tail: bytes, version: int) -> None:
    block = encode_meta({"v": 1}, version=version)
    head = MAGIC + struct.pack("<BBHI", version, 0, m, zlib.crc32(block))
    _only_format_errors(head + block + tail)
    _only_format_errors(forge(block, struct.pack("<II", length, value) + tail, version=version))


@FUZZ
@given(
    meta=METAS | st.sampled_from([TYPICAL, TYPICAL_7S]),
    at=st.integers(0, 1 << 16),
    value=st.integers(0, 255),
    cut=st.booleans(),
    version=st.sampled_from(VERSIONS),
    read_as=st.sampled_from(VERSIONS),
)
def test_property_damaged_metadata_frame(
    meta: dict[str, Any], at: int, value: int, cut: bool, version: int, read_as: int
) -> None:
    """The CRC matches, so the zstd and JSON decoders themselves see the damage (the frame
    may also be read under the other version's rule: with or without the dictionary)."""
    block = bytearray(encode_meta(meta, version=version))
    at %= len(block)
    if cut:
        del block[at + 1 :]
    else:
        block[at] = value
    _only_format_errors(forge(bytes(block), version=read_as))


@pytest.mark.parametrize("version", [1, 2])
def test_typical_metadata_every_flip_and_cut(version: int) -> None:
    """Every byte of a typical metadata block damaged (CRC fixed up): only FormatError."""
    block = encode_meta(TYPICAL, version=version)
    for i in range(len(block)):
        _only_format_errors(forge(block[:i], version=version))
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(block)
            bad[i] ^= mask
            _only_format_errors(forge(bytes(bad), version=version))
