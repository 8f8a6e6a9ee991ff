"""aecodec bench through the CLI on tiny inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import soundfile as sf
from click.testing import CliRunner

from aecodec.cli.main import main

from .conftest import synth_music


def test_bench_table_json_csv_and_failures(tmp_path: Path, tiny_model: Path) -> None:
    clips = tmp_path / "clips"
    (clips / "deep").mkdir(parents=True)
    sf.write(clips / "a.wav", synth_music(3.0, 22050), 22050)
    sf.write(clips / "deep" / "b.flac", synth_music(2.0, 16000, seed=4), 16000)
    (clips / "broken.wav").write_bytes(b"RIFF nonsense")
    res = CliRunner().invoke(main, [
        "bench", str(clips), "-b", "1,2", "--against", "dct", "--model", str(tiny_model),
        "--iters", "2", "--diagnose", "-v", "--json", str(tmp_path / "r.json"),
        "--csv", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.stderr
    table = res.stdout
    assert "| aecodec | 1 |" in table and "| dct | 2 |" in table
    assert "gl-floor" in table and "true phase" in table
    assert "broken.wav" in table and "Failures:" in table
    report = json.loads((tmp_path / "r.json").read_text())
    rows = [r for r in report["rows"] if r["codec"] == "aecodec"]
    assert len(rows) == 4 and all(r["kbps"] > 0 for r in rows)
    assert report["info"]["files"] == 3
    with open(tmp_path / "r.csv") as f:
        assert len(list(csv.DictReader(f))) == len(report["rows"])


def test_bench_empty_folder_and_unknown_codec(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "empty")])
    assert res.exit_code == 1 and "no audio files found" in res.stderr
    sf.write(tmp_path / "a.wav", synth_music(1.0, 22050), 22050)
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "a.wav"), "--against", "vorbis"])
    assert res.exit_code == 1 and "unknown reference codec 'vorbis'" in res.stderr


def test_visqol_needs_its_optional_package(tmp_path: Path, monkeypatch, tiny_model: Path) -> None:  # type: ignore[no-untyped-def]
    import sys
    monkeypatch.setitem(sys.modules, "visqol", None)  # import visqol -> ImportError
    sf.write(tmp_path / "a.wav", synth_music(2.0, 22050), 22050)
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "a.wav"), "-b", "1", "--visqol",
                                    "--model", str(tiny_model), "--iters", "1"])
    assert res.exit_code == 1 and "pip install visqol-python" in res.stderr
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "a.wav"), "-b", "1", "--visqol",
                                    "--model", str(tiny_model), "--iters", "1"])
    assert res.exit_code == 1 and "pip install visqol-python" in res.stderr


def test_bench_adds_stereo_measures_for_two_channel_sources(tmp_path: Path,
                                                            tiny_model: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    sf.write(clips / "wide.wav", synth_music(3.0, 22050, channels=2), 22050)
    res = CliRunner().invoke(main, ["bench", str(clips), "-b", "2", "--model", str(tiny_model),
                                    "--iters", "2", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.stderr
    assert "| level_db | coherence | width_db |" in res.stdout
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["level_db"] >= 0 and 0 <= row["coherence"] <= 1 and row["width_db"] >= 0
    mono = tmp_path / "mono"
    mono.mkdir()
    sf.write(mono / "m.wav", synth_music(2.0, 22050), 22050)
    res = CliRunner().invoke(main, ["bench", str(mono), "-b", "2", "--model", str(tiny_model),
                                    "--iters", "2"])
    assert res.exit_code == 0 and "level_db" not in res.stdout
