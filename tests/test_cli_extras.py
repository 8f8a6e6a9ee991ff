"""The command line a user of opusenc, lame and ffmpeg expects (issue 16), through CliRunner
with the tiny random model, so each case takes a second or two."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aecodec.cli.main import main
from aecodec.cli.progress import ProgressLine, clock, enabled, speed

from .conftest import synth_music


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    sf.write(path, synth_music(2.0, 22050, channels=2), 22050, subtype="PCM_16")
    return path


@pytest.fixture
def aec(clip: Path, tiny_model: Path) -> Path:
    out = clip.with_suffix(".aec")
    code, _, err = run("encode", clip, out, "-b", "3", "--model", tiny_model, "-q")
    assert code == 0, err
    return out


@pytest.mark.parametrize("name, fmt, subtype", [
    ("o.wav", "WAV", "PCM_16"), ("o.flac", "FLAC", "PCM_16"), ("o.ogg", "OGG", "VORBIS"),
    ("o.aiff", "AIFF", "PCM_16"), ("noext", "WAV", "PCM_16"),
])
def test_decode_format_follows_the_suffix(aec: Path, tmp_path: Path, name: str, fmt: str,
                                          subtype: str) -> None:
    code, _, err = run("decode", aec, tmp_path / name, "--iters", "1")
    assert code == 0, err
    info = sf.info(tmp_path / name)
    assert info.format == fmt and info.subtype == subtype and info.frames == 2 * 22050
    assert f"{fmt} {subtype}" in err


@pytest.mark.parametrize("name, subtype, fragment", [
    ("o.xyz", None, "cannot write .xyz files"), ("o.flac", "FLOAT", "not one FLAC holds"),
    ("o.ogg", "PCM_16", "does not fit .ogg"),
])
def test_decode_refuses_formats_before_work(aec: Path, tmp_path: Path, name: str,
                                            subtype: str | None, fragment: str) -> None:
    extra = ["--subtype", subtype] if subtype else []
    code, _, err = run("decode", aec, tmp_path / name, *extra)
    assert code == 2 and fragment in err and err.count("\n") == 1
    assert not (tmp_path / name).exists()


def test_encode_to_a_foreign_suffix_warns(clip: Path, tmp_path: Path, tiny_model: Path) -> None:
    code, _, err = run("encode", clip, tmp_path / "o.opus", "--model", tiny_model, "-b", "3")
    assert code == 0 and "does not end in .aec" in err
    assert (tmp_path / "o.opus").read_bytes()[:4] == b"AEC\x00"


def test_direction_from_the_suffixes(clip: Path, tmp_path: Path, tiny_model: Path) -> None:
    code, _, err = run(clip, tmp_path / "x.aec", "--model", tiny_model, "-b", "3")
    assert code == 0, err
    code, _, err = run(tmp_path / "x.aec", tmp_path / "x.flac", "--iters", "1")
    assert code == 0 and sf.info(tmp_path / "x.flac").format == "FLAC"
    code, _, err = run("nosuch")
    assert code == 2 and err.count("\n") == 1 and "No such command" in err


def test_usage_errors_are_one_line() -> None:
    for args in (["encode"], ["encode", "x.wav", "-b", "abc"], ["decode", "x.aec", "--bogus"],
                 ["decode", "x.aec", "--start", "1:75"]):
        code, _, err = run(*args)
        assert code == 2 and err.count("\n") == 1 and err.startswith("aecodec: error: "), err


def test_bitrate_and_time_syntax(clip: Path, tmp_path: Path, tiny_model: Path) -> None:
    code, _, err = run("encode", clip, tmp_path / "k.aec", "--model", tiny_model, "-b", "3k")
    assert code == 0, err
    info = json.loads(run("info", tmp_path / "k.aec", "--json")[1])
    assert abs(info["kbps"] - 3) < 0.6
    code, _, err = run("decode", tmp_path / "k.aec", tmp_path / "k.wav", "--start", "0:00.5",
                       "--duration", "0:01", "--iters", "1")
    assert code == 0, err
    assert sf.info(tmp_path / "k.wav").frames == 22050


def test_skip_existing_quiet_and_batch_lines(tmp_path: Path, tiny_model: Path) -> None:
    src = tmp_path / "music"
    src.mkdir()
    for i in range(2):
        sf.write(src / f"t{i}.wav", synth_music(1.5, 22050, seed=i), 22050)
    out = tmp_path / "out"
    code, _, err = run("encode", src, "-o", out, "--model", tiny_model, "-b", "3")
    assert code == 0, err
    lines = err.splitlines()
    assert all("bytes" in ln and "kbps" in ln for ln in lines[:2])
    assert "encoded 2 of 2 files (0 skipped, 0 failed): 3.0 s of audio" in lines[-1]
    assert " kbps, in " in lines[-1]
    code, _, err = run("encode", src, "-o", out, "--model", tiny_model, "-b", "3")
    assert code == 5 and "already exists" in err  # no -f, no -n: each file fails
    code, _, err = run("encode", src, "-o", out, "--model", tiny_model, "-b", "3", "-n")
    assert code == 0 and "(2 skipped, 0 failed)" in err
    code, _, err = run("decode", out, "-o", tmp_path / "wav", "--iters", "1", "-q")
    assert code == 0 and err == ""
    code, _, err = run("encode", src / "t0.wav", out / "t0.aec", "-n", "--model", tiny_model)
    assert code == 0 and "skipped" in err


def test_truncated_file_with_ignore_errors(tmp_path: Path, tiny_model: Path) -> None:
    wav = tmp_path / "long.wav"
    sf.write(wav, synth_music(14.0, 22050), 22050)
    aec = tmp_path / "long.aec"
    assert run("encode", wav, aec, "--model", tiny_model, "-b", "3", "-q")[0] == 0
    data = aec.read_bytes()
    aec.write_bytes(data[:-40])  # the last chunk (of 3) cut short, end record gone
    code, _, err = run("decode", aec, tmp_path / "o.wav")
    assert code == 4 and "truncated" in err
    code, _, err = run("decode", aec, tmp_path / "o.wav", "--ignore-errors", "--iters", "1")
    assert code == 0 and "truncated; decoded up to its last whole chunk" in err, err
    frames = sf.info(tmp_path / "o.wav").frames
    assert 11 * 22050 < frames < 12 * 22050  # two whole chunks of 5.94 s
    aec.write_bytes(data[:30])
    code, _, err = run("decode", aec, tmp_path / "p.wav", "--ignore-errors")
    assert code == 4 and not (tmp_path / "p.wav").exists()


def test_tags_kept_and_set(tmp_path: Path, tiny_model: Path) -> None:
    src = tmp_path / "tagged.flac"
    with sf.SoundFile(src, "w", 22050, 1, format="FLAC") as f:
        f.title, f.artist = "Across the Ice", "Enigma"
        f.write(synth_music(1.5, 22050))
    aec = tmp_path / "t.aec"
    code, _, err = run("encode", src, aec, "--model", tiny_model, "-b", "3",
                       "--comment", "made by a test", "--artist", "Someone")
    assert code == 0, err
    tags = json.loads(run("info", aec, "--json")[1])["tags"]
    assert tags == {"title": "Across the Ice", "artist": "Someone",
                    "comment": "made by a test"}
    assert "tags:    artist=Someone, comment=made by a test, title=Across the Ice" in \
        run("info", aec)[1]
    for name in ("t.flac", "t.wav"):
        assert run("decode", aec, tmp_path / name, "--iters", "1")[0] == 0
        with sf.SoundFile(tmp_path / name) as f:
            assert f.title == "Across the Ice" and f.artist == "Someone"


def test_gain_and_clipping_warning(aec: Path, tmp_path: Path) -> None:
    code, _, err = run("decode", aec, tmp_path / "loud.wav", "--gain", "20", "--iters", "1")
    assert code == 0 and "samples clipped to full scale" in err
    quiet, _ = sf.read(tmp_path / "loud.wav")
    assert np.abs(quiet).max() <= 1.0
    code, _, err = run("decode", aec, tmp_path / "f.wav", "--gain", "20", "--subtype", "FLOAT",
                       "--iters", "1")
    assert code == 0 and "clipped" not in err


def test_version_names_models_and_libraries() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("aecodec ")
    assert "aecodec-v1-" in out and "torch" in out and "libsndfile" in out


def test_bench_plot_extra_checked_first(clip: Path, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    code, out, err = run("bench", clip, "--plot", tmp_path / "rd.png")
    assert code == 1 and "--plot needs matplotlib" in err and out == ""


def test_threads_option(aec: Path, tmp_path: Path) -> None:
    code, _, err = run("decode", aec, tmp_path / "t.wav", "--threads", "1", "--iters", "1")
    assert code == 0, err
    code, _, err = run("decode", aec, tmp_path / "u.wav", "--threads", "0", "--iters", "1")
    assert code == 0, err  # 0: automatic
    code, _, err = run("decode", aec, tmp_path / "v.wav", "--threads", "-1")
    assert code == 2 and "--threads" in err


def test_progress_line() -> None:
    buf = io.StringIO()
    bar = ProgressLine("encoding x.wav", enabled=True, stream=buf)
    bar(30.0, 60.0)
    bar(60.0, 60.0)
    bar.close()
    text = buf.getvalue()
    assert "encoding x.wav" in text and " 50%" in text and "100%" in text and "ETA" in text
    assert "real time" in text and text.endswith("\r\033[K")
    silent = io.StringIO()
    ProgressLine("x", enabled=False, stream=silent)(1.0, 2.0)
    assert silent.getvalue() == ""
    assert not enabled(True)  # -q
    assert speed(3.0, 6.0) == "0.5x" and speed(300, 2) == "150x" and clock(90) == "1:30"
