"""The command line through click's CliRunner: round trips, overwrite rules, bad input."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aecodec.cli.main import main

from .conftest import synth_music


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".aecpart")))


def test_encode_info_decode_round_trip(music_wav: Path, tmp_path: Path) -> None:
    aec, out = tmp_path / "m.aec", tmp_path / "out.wav"
    code, _, err = run("encode", music_wav, aec, "-b", "6")
    assert code == 0, err
    assert "kbps" in err
    code, stdout, _ = run("info", aec, "--json")
    info = json.loads(stdout)
    assert info["rate"] == 44100 and info["channels"] == 2 and info["bytes"] == aec.stat().st_size
    assert info["kbps"] == pytest.approx(aec.stat().st_size * 8 / 3.0 / 1000, rel=1e-3)
    code, stdout, _ = run("info", aec)
    assert code == 0 and "kbps" in stdout and "aecodec format v2," in stdout
    assert "coder:   ans-" in stdout  # the shipped model codes with its entropy tables
    assert "phase:   5 peak phases a frame" in stdout  # -b 6: the peak-phase layer
    assert "high band: 11.025-20 kHz, 6 bands, an envelope every 93 ms" in stdout  # 44.1 kHz
    code, _, err = run("decode", aec, out, "--iters", "4")
    assert code == 0, err
    data, rate = sf.read(out, always_2d=True)
    assert rate == 44100 and data.shape == (3 * 44100, 2) and sf.info(out).subtype == "PCM_16"
    assert np.abs(data).max() > 0.01
    assert leftovers(tmp_path) == []


def test_default_output_names_and_options(music_wav: Path, tmp_path: Path) -> None:
    assert run("encode", music_wav, "-q")[0] == 0
    aec = music_wav.with_suffix(".aec")
    assert aec.exists()
    out = tmp_path / "o.wav"
    assert run("decode", aec, out, "--rate", "16000", "--subtype", "FLOAT", "--iters", "2")[0] == 0
    assert sf.info(out).samplerate == 16000 and sf.info(out).subtype == "FLOAT"
    assert sf.info(out).frames == 3 * 16000


def test_refuses_to_clobber(music_wav: Path, tmp_path: Path) -> None:
    aec = tmp_path / "m.aec"
    aec.write_bytes(b"precious")
    code, _, err = run("encode", music_wav, aec)
    assert code == 5 and "already exists" in err and "--force" in err
    assert aec.read_bytes() == b"precious"
    assert run("encode", music_wav, aec, "-f", "-q")[0] == 0
    assert aec.read_bytes()[:4] == b"AEC\x00"
    code, _, err = run("encode", music_wav, music_wav, "-f")
    assert code == 5 and "same file as the input" in err


@pytest.mark.parametrize("setup, code, fragment", [
    ("missing", 3, "no such file"), ("directory", 3, "is a directory"),
    ("garbage", 3, "not a readable audio file"), ("empty", 3, "empty file"),
])
def test_encode_bad_input(tmp_path: Path, setup: str, code: int, fragment: str) -> None:
    src = tmp_path / "in.wav"
    if setup == "directory":
        src.mkdir()
    elif setup == "garbage":
        src.write_bytes(b"\x00garbage" * 100)
    elif setup == "empty":
        src.write_bytes(b"")
    rc, _, err = run("encode", src, tmp_path / "o.aec")
    assert rc == code
    assert err.count("\n") == 1 and fragment in err and str(src) in err
    assert "Traceback" not in err and not (tmp_path / "o.aec").exists()


@pytest.mark.parametrize("content, fragment", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not an .aec file"),
    (b"AEC\x00\x07\x00" + bytes(10), "unsupported format version 7"),
    (b"AEC\x00\x01", "truncated"),
])
def test_decode_foreign_or_truncated(tmp_path: Path, content: bytes, fragment: str) -> None:
    bad = tmp_path / "bad.aec"
    bad.write_bytes(content)
    rc, _, err = run("decode", bad, tmp_path / "o.wav")
    assert rc == 4 and fragment in err and str(bad) in err and err.count("\n") == 1
    assert not (tmp_path / "o.wav").exists()


def test_decode_corrupted_chunk_and_ignore_errors(music_wav: Path, tmp_path: Path) -> None:
    aec = tmp_path / "m.aec"
    run("encode", music_wav, aec)
    data = bytearray(aec.read_bytes())
    data[-30] ^= 0x55
    aec.write_bytes(bytes(data))
    rc, _, err = run("decode", aec, tmp_path / "o.wav")
    assert rc == 4 and "chunk 1 of 1 is corrupted (CRC mismatch)" in err
    rc, _, err = run("decode", aec, tmp_path / "o.wav", "--ignore-errors", "--iters", "1")
    assert rc == 0 and "1 damaged chunk" in err and (tmp_path / "o.wav").exists()


def test_truncated_file_at_many_offsets(music_wav: Path, tmp_path: Path) -> None:
    aec = tmp_path / "m.aec"
    run("encode", music_wav, aec)
    data = aec.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 25)):
        aec.write_bytes(data[:cut])
        rc, _, err = run("info", aec)
        assert rc == 4 and err.startswith("aecodec: error: ") and "Traceback" not in err


def test_unwritable_outputs(music_wav: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    rc, _, err = run("encode", music_wav, tmp_path / "nodir" / "o.aec")
    assert rc == 5 and "does not exist" in err
    ro = tmp_path / "ro"
    ro.mkdir()
    from aecodec.files import atomic as output
    real_access = output.os.access
    # root may write anywhere: make the folder read-only as the code under test sees it
    monkeypatch.setattr(output.os, "access",
                        lambda p, mode: False if Path(p) == ro else real_access(p, mode))
    rc, _, err = run("encode", music_wav, ro / "o.aec")
    assert rc == 5 and "is not writable" in err and not (ro / "o.aec").exists()


def test_disk_full_leaves_nothing(music_wav: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from aecodec.files import atomic as output

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output.os, "fsync", no_space)
    rc, _, err = run("encode", music_wav, tmp_path / "o.aec")
    assert rc == 5 and "No space left on device" in err
    assert not (tmp_path / "o.aec").exists() and leftovers(tmp_path) == []


def test_ctrl_c_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aecodec.codec import encode as codec

    long_wav = tmp_path / "long.wav"
    sf.write(long_wav, synth_music(14.0, 22050), 22050)
    real = codec.chunk_payload
    calls = []

    def interrupted(*args: object, **kwargs: object) -> tuple[bytes, float]:
        calls.append(1)
        if len(calls) == 2:  # after the first chunk was written to the temp file
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "chunk_payload", interrupted)
    rc, _, err = run("encode", long_wav, tmp_path / "o.aec")
    assert rc == 130 and "interrupted" in err
    assert not (tmp_path / "o.aec").exists() and leftovers(tmp_path) == []


def test_bad_bitrate_is_usage_error(music_wav: Path, tmp_path: Path) -> None:
    rc, _, err = run("encode", music_wav, tmp_path / "o.aec", "-b", "abc")
    assert rc == 2 and "'abc' is not a number" in err
    rc, _, err = run("encode", music_wav, tmp_path / "o.aec", "-b", "100")
    assert rc == 2 and "outside" in err


def test_explicit_model_option(music_wav: Path, tmp_path: Path, tiny_model: Path) -> None:
    aec = tmp_path / "t.aec"
    assert run("encode", music_wav, aec, "--model", tiny_model, "-b", "2")[0] == 0
    assert json.loads(run("info", aec, "--json")[1])["model"]["id"] == "tiny-test"
    assert run("decode", aec, tmp_path / "t.wav", "--iters", "1")[0] == 0
    rc, _, err = run("encode", music_wav, tmp_path / "u.aec", "--model", tmp_path / "none.pt")
    assert rc == 6 and "model weights not found" in err


def test_help_does_not_import_torch() -> None:
    code = ("import sys; from click.testing import CliRunner; from aecodec.cli.main import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    mod = subprocess.run([sys.executable, "-m", "aecodec", "--version"], capture_output=True,
                         text=True, check=True)
    assert "aecodec" in mod.stdout


def test_batch_encode_decode_with_workers(tmp_path: Path) -> None:
    src = tmp_path / "music"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.wav", synth_music(2.0, 22050), 22050)
    sf.write(src / "sub" / "b.flac", synth_music(1.5, 16000, seed=3), 16000)
    (src / "notes.txt").write_text("not audio")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF garbage")
    out = tmp_path / "out"
    rc, _, err = run("encode", src, bad, "-o", out, "-j", "2")
    assert rc == 3 and "encoded 2 of 3 files" in err and "broken.wav" in err
    assert (out / "a.aec").exists() and (out / "sub" / "b.aec").exists()
    assert leftovers(out) == [] and not (out / "broken.aec").exists()
    rc, _, err = run("decode", out, "-o", tmp_path / "wav", "--iters", "1", "-q")
    assert rc == 0, err
    assert sf.info(tmp_path / "wav" / "sub" / "b.wav").samplerate == 16000
    rc, _, err = run("encode", src / "a.wav", src / "sub" / "b.flac")
    assert rc == 2 and "-o/--output-dir" in err


def test_encode_file_is_importable_and_stateless(music_wav: Path, tmp_path: Path) -> None:
    from aecodec.files.ops import decode_file, encode_file
    r = encode_file(music_wav, tmp_path / "x.aec", kbps=6)
    assert r["bytes"] == (tmp_path / "x.aec").stat().st_size and abs(r["kbps"] - 6) < 0.6
    d = decode_file(tmp_path / "x.aec", tmp_path / "x.wav", iters=1, start=1.0, duration=1.0)
    assert d["frames"] == 44100 and sf.info(tmp_path / "x.wav").frames == 44100


@pytest.mark.parametrize("args", [
    ["encode", "/nonexistent/in.wav", "/tmp/never.aec"],
    ["decode", "/nonexistent/in.aec", "/tmp/never.wav"],
    ["info", "/nonexistent/in.aec"],
    ["encode", "/nonexistent/in.wav", "-b", "abc"],
])
def test_error_paths_do_not_import_torch(args: list[str]) -> None:
    code = ("import sys; from click.testing import CliRunner; from aecodec.cli.main import main; "
            f"r = CliRunner().invoke(main, {args!r}); assert r.exit_code in (2, 3, 4), r.output; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
