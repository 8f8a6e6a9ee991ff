"""Stereo-image files end to end: metadata, stream kind 5, wide decode, damage, forgery, info."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aecodec.bench.stereo_metrics import stereo_errors
from aecodec.cli.main import main
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import Audio
from aecodec.errors import FormatError
from aecodec.format import container
from aecodec.format.payload import IMAGE, pack_payload
from aecodec.model.registry import load_model

from .conftest import payload_kinds, synth_music

RATE = 22_050


def _wide(seconds: float = 3.0) -> np.ndarray:
    """A shared part and an independent part per channel: coherence well under 1."""
    a, b, c = (synth_music(seconds, RATE, seed=s)[:, 0] for s in (0, 1, 2))
    return np.stack([0.6 * a + 0.4 * b, 0.6 * a + 0.4 * c], axis=1).astype(np.float32)


def _streams(payload: bytes) -> list[tuple[int, float, bytes]]:
    pos, out = 1, []
    for _ in range(payload[0]):
        kind, step, n = struct.unpack_from("<BfI", payload, pos)
        out.append((kind, step, payload[pos + 9:pos + 9 + n]))
        pos += 9 + n
    return out


def test_image_file_keeps_a_wide_image(tiny_model: Path) -> None:
    audio = Audio(_wide(), RATE)
    model = load_model(path=tiny_model)
    enc = encode_audio(audio, kbps=6, model=model)
    assert enc.meta["stereo"] == "image" and enc.meta["image"]["slot"] == 8
    assert encode_audio(audio, kbps=12, model=model).meta["image"]["slot"] == 8
    assert encode_audio(audio, kbps=24, model=model).meta["image"]["slot"] == 4
    assert all(IMAGE in payload_kinds(c) for c in enc.chunks)
    out, _, damaged = decode_audio(enc.to_bytes(), iters=2)
    assert out.shape == audio.samples.shape and damaged == 0
    mono = np.repeat(out.mean(axis=1, keepdims=True), 2, axis=1)
    ours = stereo_errors(audio.samples, out, rate=RATE)
    theirs = stereo_errors(audio.samples, mono, rate=RATE)
    assert ours["coherence"] < theirs["coherence"] - 0.1
    assert ours["width_db"] < theirs["width_db"] - 10


def test_legacy_ild_files_still_written_and_read(tiny_model: Path) -> None:
    audio = Audio(_wide(), RATE)
    enc = encode_audio(audio, kbps=6, model=load_model(path=tiny_model), stereo_kind="ild")
    assert enc.meta["stereo"] == "ild" and "image" not in enc.meta
    assert all(IMAGE not in payload_kinds(c) for c in enc.chunks)
    out, _, _ = decode_audio(enc.to_bytes(), iters=2)
    assert out.shape == audio.samples.shape


def test_damaged_chunk_decodes_centred(tiny_model: Path) -> None:
    enc = encode_audio(Audio(_wide(7.0), RATE), kbps=6, model=load_model(path=tiny_model))
    raw = bytearray(enc.to_bytes())
    raw[len(raw) - 8 - len(enc.chunks[-1]) // 2] ^= 0xFF  # inside the last chunk's payload
    out, _, damaged = decode_audio(bytes(raw), iters=2, ignore_errors=True)
    assert damaged == 1 and np.isfinite(out).all() and out.shape[1] == 2


def test_missing_or_foreign_image_stream_refused(tiny_model: Path) -> None:
    model = load_model(path=tiny_model)
    enc = encode_audio(Audio(_wide(), RATE), kbps=6, model=model)
    without = [pack_payload([s for s in _streams(c) if s[0] != IMAGE]) for c in enc.chunks]
    with pytest.raises(FormatError, match="expected \\[0, 5\\]"):
        decode_audio(container.pack(enc.meta, without), iters=1)
    wrong_step = [pack_payload([(k, 2.0 if k == IMAGE else s, d) for k, s, d in _streams(c)])
                  for c in enc.chunks]
    with pytest.raises(FormatError, match="stereo-image step 2.0"):
        decode_audio(container.pack(enc.meta, wrong_step), iters=1)
    mono = encode_audio(Audio(_wide()[:, :1], RATE), kbps=6, model=model)
    image = next(s for s in _streams(enc.chunks[0]) if s[0] == IMAGE)
    forged = [pack_payload([*_streams(c), image]) for c in mono.chunks]
    with pytest.raises(FormatError, match="unexpected stream kind 5"):
        decode_audio(container.pack(mono.meta, forged), iters=1)


def test_info_shows_the_stereo_image(tiny_model: Path, tmp_path: Path) -> None:
    enc = encode_audio(Audio(_wide(), RATE), kbps=6, model=load_model(path=tiny_model))
    path = tmp_path / "x.aec"
    path.write_bytes(enc.to_bytes())
    res = CliRunner().invoke(main, ["info", str(path)])
    assert res.exit_code == 0, res.output
    assert "stereo image (level differences + coherence)" in res.output
    assert "ILD in 20 bands every 8 frames" in res.output and "stream kind 5" in res.output
