"""The committed golden .aec file must keep decoding in every later version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aecodec.bench.metrics import all_metrics
from aecodec.cli.main import main
from aecodec.codec.decode import decode_audio
from aecodec.format import container
from aecodec.format.meta import validate_meta

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = json.loads((DATA / "golden.json").read_text())


def test_golden_parses_to_pinned_metadata() -> None:
    data = (DATA / "golden.aec").read_bytes()
    assert len(data) == GOLDEN["bytes"]
    aec = container.unpack(data, name="golden.aec")
    assert aec.meta == GOLDEN["meta"]
    validate_meta(aec.meta, name="golden.aec")
    assert data[:5] == b"AEC\x00\x01"


def test_golden_decodes_to_the_same_audio_quality() -> None:
    import soundfile as sf
    out, rate, damaged = decode_audio((DATA / "golden.aec").read_bytes(), name="golden.aec")
    want = GOLDEN["decoded"]
    assert (rate, list(out.shape), damaged) == (want["rate"], want["shape"], 0)
    assert np.isfinite(out).all()
    assert np.sqrt(np.mean(out ** 2)) == pytest.approx(want["rms"], rel=0.05)
    ref, _ = sf.read(DATA / "golden-source.wav", dtype="float32")
    got = all_metrics(ref.mean(axis=1), out.mean(axis=1), rate=rate)
    for key in ("seed_rmse", "mr_rmse", "mel_l1"):
        assert got[key] == pytest.approx(want[key], abs=0.02), key


def test_golden_info_and_decode_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["info", str(DATA / "golden.aec")])
    assert res.exit_code == 0 and "parametric stereo" in res.stdout
    assert "aecodec format v1," in res.stdout
    res = runner.invoke(main, ["decode", str(DATA / "golden.aec"), str(tmp_path / "g.wav"),
                               "--start", "2", "--duration", "1", "-q"])
    assert res.exit_code == 0, res.stderr


def test_future_version_is_refused_clearly(tmp_path: Path) -> None:
    data = bytearray((DATA / "golden.aec").read_bytes())
    data[4] = 3
    path = tmp_path / "future.aec"
    path.write_bytes(bytes(data))
    res = CliRunner().invoke(main, ["decode", str(path), str(tmp_path / "o.wav")])
    assert res.exit_code == 4 and "unsupported format version 3 (this build reads 1-2)" in res.stderr
