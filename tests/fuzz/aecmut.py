"""Structure-aware mutation of real ``.aec`` files, and a harness that runs each case with a
memory and time cap.

A file is split into its header fields, metadata object and chunk payloads, and each payload
into its streams ``(kind, step, bytes)`` - generically, whatever kinds a file holds
(docs/format.md, "Chunk payload") - so mutations re-forge every CRC and reach the code behind
the checks: metadata fields set to hostile values, zstd frames that declare huge or wrong
sizes (or decompress far past what they declare), ANS word streams cut or stuffed, stream
kinds, steps and counts changed, chunks dropped, duplicated, swapped and concatenated, files
truncated at any length. Deterministic for a seed (``random.Random``).
"""

from __future__ import annotations

import copy
import io
import random
import signal
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aecodec.format import container

_STREAM = struct.Struct("<BfI")
_HEADER = struct.Struct("<4sBBHI")
_RECORD = struct.Struct("<II")

HOSTILE_INTS = [0, -1, 1, 2, 3, 7, 127, 128, 255, 256, 1023, 1024, 1025, 65535, 65536,
                2**31 - 1, 2**31, 2**32, 2**53, 10**12, 10**18, -(2**63)]
HOSTILE_VALUES: list[Any] = [None, True, False, "", "x" * 300, 0.5, 1e308, -0.0, [], {},
                             [1], [64, 10**9], [10**6, 1], {"id": "../x", "sha256": "0" * 12},
                             {"id": "aecodec-v1", "sha256": "f" * 64}, "ans-000000000000",
                             "zstd", "ild", "none", {"peaks": 10**6, "bits": 3, "kmax": 93}]


def zstd_frame(declared: int | None, blocks: list[tuple[int, int]]) -> bytes:
    """A hand-made zstd frame: content size ``declared`` in its header (None: unknown) and RLE
    blocks ``(byte, count)`` - so it can claim anything and decompress to anything."""
    if declared is None:
        head = bytes([0x00, 0x58])  # no content size; window descriptor 2**21
    else:
        head = bytes([0xE0]) + struct.pack("<Q", declared)  # single segment, 8-byte size
    out = [b"\x28\xb5\x2f\xfd", head]
    for i, (value, count) in enumerate(blocks):
        last = int(i == len(blocks) - 1)
        hdr = (min(count, 1 << 17) << 3) | (1 << 1) | last
        out += [struct.pack("<I", hdr)[:3], bytes([value & 0xFF])]
    return b"".join(out)


@dataclass
class Parsed:
    version: int
    meta: dict[str, Any]
    chunks: list[list[tuple[int, float, bytes]] | bytes]  # streams, or raw when unparsable
    counts: list[int] = field(default_factory=list)  # declared stream count per chunk


def split_streams(payload: bytes) -> list[tuple[int, float, bytes]] | None:
    """A payload's streams, or None if it does not parse."""
    if not payload:
        return None
    pos, out = 1, []
    for _ in range(payload[0]):
        if pos + _STREAM.size > len(payload):
            return None
        kind, step, n = _STREAM.unpack_from(payload, pos)
        pos += _STREAM.size
        out.append((kind, step, payload[pos:pos + n]))
        pos += n
    return out if pos == len(payload) else None


def parse(data: bytes) -> Parsed:
    aec = container.unpack(data)
    version = data[4]
    chunks: list[Any] = []
    for c in aec.chunks:
        assert c is not None
        s = split_streams(c)
        chunks.append(s if s is not None else c)
    return Parsed(version, aec.meta, chunks)


def join_streams(streams: list[tuple[int, float, bytes]], count: int | None = None) -> bytes:
    out = [bytes([len(streams) if count is None else count & 0xFF])]
    for kind, step, b in streams:
        out += [_STREAM.pack(kind & 0xFF, step, len(b)), b]
    return b"".join(out)


def build(p: Parsed) -> bytes:
    """Re-pack with valid CRCs (the metadata may hold anything JSON can)."""
    block = container.encode_meta(p.meta, version=p.version) if _jsonable(p.meta) else b"\x00"
    out = [_HEADER.pack(container.MAGIC, p.version, 0, len(block), zlib.crc32(block)), block]
    n = 0
    for c in p.chunks:
        payload = c if isinstance(c, bytes) else join_streams(c)
        if not payload:
            continue
        out += [_RECORD.pack(len(payload), zlib.crc32(payload)), payload]
        n += 1
    out.append(_RECORD.pack(0, n))
    return b"".join(out)


def _jsonable(meta: Any) -> bool:
    try:
        container.encode_meta(meta)
    except (TypeError, ValueError):
        return False
    return True


# --- mutations ------------------------------------------------------------------------------

def _meta_field(p: Parsed, r: random.Random) -> None:
    keys = list(p.meta)
    path: list[Any] = [r.choice(keys)]
    node = p.meta[path[0]]
    while isinstance(node, (dict, list)) and node and r.random() < 0.5:
        k = r.choice(list(node)) if isinstance(node, dict) else r.randrange(len(node))
        path.append(k)
        node = node[k]
    target: Any = p.meta
    for k in path[:-1]:
        target = target[k]
    roll = r.random()
    if roll < 0.1 and isinstance(target, dict):
        del target[path[-1]]
    elif roll < 0.55 or isinstance(node, int):
        v = r.choice(HOSTILE_INTS)
        target[path[-1]] = v if r.random() < 0.7 or not isinstance(node, int) else node * r.choice([2, 10, 1000])
    else:
        target[path[-1]] = copy.deepcopy(r.choice(HOSTILE_VALUES))


def _consistent_length(p: Parsed, r: random.Random) -> None:
    """A length forged WITH the fields that depend on it (what a careful forger does)."""
    m = p.meta
    try:
        factor = r.choice([2, 10, 100, 1000, 14400])
        m["length"] = int(m["length"]) * factor
        samples = -(-m["length"] * m["model_rate"] // m["rate"])
        m["frames"] = samples // m["hop"] + 1
        m["latent"] = [m["latent"][0], -(-m["frames"] // 4)]
        if r.random() < 0.5:
            m["chunk_frames"] = max(1, -(-m["latent"][1] // max(1, len(p.chunks))))
    except (KeyError, TypeError, ZeroDivisionError, IndexError, ValueError):
        pass


def _streams_of(p: Parsed, r: random.Random) -> list[tuple[int, float, bytes]] | None:
    parsed = [c for c in p.chunks if isinstance(c, list)]
    return r.choice(parsed) if parsed else None


def _stream_bytes(p: Parsed, r: random.Random) -> None:
    s = _streams_of(p, r)
    if not s:
        return
    i = r.randrange(len(s))
    kind, step, b = s[i]
    roll = r.random()
    if roll < 0.3:  # a zstd frame that lies about its size or inflates past it
        declared = r.choice([None, 0, 1, len(b) * 1000, 2**31, 2**40, 2**62])
        blocks = [(0, 1 << 17)] * r.choice([1, 2, 64, 4096])
        b = zstd_frame(declared, blocks)
    elif roll < 0.45:  # ANS words: cut, stuffed, misaligned
        b = r.choice([b[: len(b) // 2], b + bytes(4 * r.randint(1, 5000)), b[:-1], b"",
                      bytes([0xFF]) * 4 * r.randint(1, 64), b[::-1]])
    elif roll < 0.75 and b:  # bit flips inside the stream
        raw = bytearray(b)
        for _ in range(r.randint(1, 8)):
            raw[r.randrange(len(raw))] ^= 1 << r.randrange(8)
        b = bytes(raw)
    else:
        b = b[: r.randrange(len(b) + 1)]
    s[i] = (kind, step, b)


def _stream_header(p: Parsed, r: random.Random) -> None:
    s = _streams_of(p, r)
    if not s:
        return
    i = r.randrange(len(s))
    kind, step, b = s[i]
    roll = r.random()
    if roll < 0.35:
        kind = r.choice([0, 1, 2, 3, 4, 5, 6, 7, 255, kind ^ 1])
    elif roll < 0.7:
        step = r.choice([0.0, -1.0, float("nan"), float("inf"), 1e-30, 1e6, 3e38, step * 1.01,
                         step * 2])
    elif roll < 0.85:
        s.insert(r.randrange(len(s) + 1), s[r.randrange(len(s))])  # a stream twice
        return
    else:
        del s[i]
        return
    s[i] = (kind, step, b)


def _chunks(p: Parsed, r: random.Random) -> None:
    n = len(p.chunks)
    roll = r.random()
    if roll < 0.25 and n > 1:
        del p.chunks[r.randrange(n)]
    elif roll < 0.5:
        p.chunks.insert(r.randrange(n + 1), copy.deepcopy(p.chunks[r.randrange(n)]))
    elif roll < 0.7 and n > 1:
        i, j = r.sample(range(n), 2)
        p.chunks[i], p.chunks[j] = p.chunks[j], p.chunks[i]
    elif roll < 0.85:
        p.chunks += copy.deepcopy(p.chunks) * r.choice([1, 3, 50])
    else:
        c = p.chunks[r.randrange(n)]
        if isinstance(c, list):
            p.chunks[p.chunks.index(c)] = join_streams(c, count=r.choice([0, len(c) + 1, 255]))


MUTATORS: list[Callable[[Parsed, random.Random], None]] = [
    _meta_field, _meta_field, _consistent_length, _stream_bytes, _stream_bytes, _stream_bytes,
    _stream_header, _stream_header, _chunks]


def _raw(data: bytes, others: list[bytes], r: random.Random) -> bytes:
    """Byte-level damage after re-packing: CRCs then usually fail (the checks must hold)."""
    roll = r.random()
    if roll < 0.3:
        return data[: r.randrange(len(data) + 1)]
    if roll < 0.5:
        return data + r.choice(others)  # two files concatenated
    if roll < 0.7:
        raw = bytearray(data)
        for _ in range(r.randint(1, 6)):
            raw[r.randrange(len(raw))] = r.randrange(256)
        return bytes(raw)
    raw = bytearray(data)  # header fields: version, flags, metadata length
    pos = r.choice([4, 5, 6, 7])
    raw[pos] = r.randrange(256)
    return bytes(raw)


def mutate(seed_files: list[bytes], r: random.Random) -> bytes:
    """One hostile file from one of ``seed_files``."""
    base = r.choice(seed_files)
    if r.random() < 0.15:
        return _raw(base, seed_files, r)
    p = parse(base)
    for _ in range(r.choice([1, 1, 1, 2, 3])):
        try:
            r.choice(MUTATORS)(p, r)
        except (KeyError, TypeError, IndexError, ValueError, AttributeError):
            pass  # a mutation that did not apply to what an earlier one left
    data = build(p)
    return _raw(data, seed_files, r) if r.random() < 0.1 else data


# --- harness --------------------------------------------------------------------------------

class CaseTimeout(Exception):
    """A case ran past its time cap."""


@dataclass
class Result:
    outcome: str  # "ok", an AecError class name, or "FINDING: ..."
    seconds: float
    peak_mb: float


def run_case(target: Callable[[bytes], Any], data: bytes, *, seconds: float = 20.0,
             memory_mb: float = 512.0) -> Result:
    """Run ``target(data)``; anything but success or an :class:`AecError` is a finding, as is
    a case over ``seconds`` (SIGALRM) or whose Python/numpy allocations peak over
    ``memory_mb`` (tracemalloc: numpy buffers and bytes are traced; torch's are bounded by the
    shapes the metadata checks allow)."""
    from aecodec.errors import AecError

    def alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        target(data)
        outcome = "ok"
    except AecError as exc:
        outcome = type(exc).__name__
        if "\n" in str(exc):
            outcome = f"FINDING: multi-line {type(exc).__name__}: {exc!r}"
    except CaseTimeout:
        outcome = f"FINDING: over {seconds:g} s"
    except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
        outcome = f"FINDING: {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    if peak > memory_mb and not outcome.startswith("FINDING"):
        outcome = f"FINDING: {peak:.0f} MB traced ({outcome})"
    return Result(outcome, time.perf_counter() - t0, peak)


def decode_target(*, iters: int = 0) -> Callable[[bytes], Any]:
    """Decode through :func:`aecodec.codec.decode.decode_to` into a sink that keeps nothing,
    then ``info --verify``'s checks on the same bytes."""
    import tempfile
    from pathlib import Path

    from aecodec.codec.decode import decode_to
    from aecodec.format.meta import file_info

    def target(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "case.aec"
            path.write_bytes(data)
            try:
                file_info(path, verify=True)
            finally:
                decode_to(io.BytesIO(data), lambda block: None, name="case", iters=iters)

    return target
