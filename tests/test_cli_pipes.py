"""Pipes and permissions through real processes: ``-`` as stdin / stdout, ``/dev/stdout``,
FIFOs, and output modes under the umask (issue 16)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import soundfile as sf

from .conftest import REPO, synth_music


def aecodec(*args: object, stdin: bytes = b"", cwd: Path, env: dict[str, str] | None = None,
            umask: int | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "aecodec", *map(str, args)], input=stdin,
                          capture_output=True, check=False, cwd=cwd, env=full_env, timeout=600,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


@pytest.fixture
def wav_bytes() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, synth_music(3.0, 22050, channels=2), 22050, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_stdin_to_stdout_and_back(wav_bytes: bytes, tmp_path: Path, tiny_model: Path) -> None:
    env = {"AECODEC_MODELS": str(tiny_model.parent)}
    enc = aecodec("encode", "-", "-", "-b", "3", "--model", tiny_model, stdin=wav_bytes, cwd=tmp_path, env=env)
    assert enc.returncode == 0, enc.stderr
    assert enc.stdout[:4] == b"AEC\x00" and b"kbps" in enc.stderr  # messages on stderr only
    dec = aecodec("decode", "-", "-", "--iters", "1", stdin=enc.stdout, cwd=tmp_path, env=env)
    assert dec.returncode == 0, dec.stderr
    audio, rate = sf.read(io.BytesIO(dec.stdout), always_2d=True)
    assert rate == 22050 and audio.shape == (3 * 22050, 2)
    # `encode -` alone is stdin -> stdout too; nothing named "-" is ever created
    alone = aecodec("encode", "-", "-q", "-b", "3", "--model", tiny_model, stdin=wav_bytes, cwd=tmp_path, env=env)
    assert alone.returncode == 0 and alone.stdout[:4] == b"AEC\x00" and alone.stderr == b""
    (tmp_path / "s.aec").write_bytes(enc.stdout)
    dev = aecodec("decode", "s.aec", "/dev/stdout", "--iters", "1", "-q", cwd=tmp_path, env=env)
    assert dev.returncode == 0, dev.stderr
    assert sf.info(io.BytesIO(dev.stdout)).frames == 3 * 22050
    # the pipe carries the very bytes a file gets (same header, same sample conversion)
    dec_file = aecodec("decode", "s.aec", "o.wav", "--iters", "1", "-q", cwd=tmp_path, env=env)
    assert dec_file.returncode == 0 and (tmp_path / "o.wav").read_bytes() == dec.stdout
    flac = aecodec("decode", "-", "o.flac", "--iters", "1", stdin=enc.stdout, cwd=tmp_path,
                   env=env)
    assert flac.returncode == 0 and sf.info(tmp_path / "o.flac").format == "FLAC"
    assert not (tmp_path / "-").exists()


def test_empty_stdin_and_terminal_refused(tmp_path: Path) -> None:
    r = aecodec("encode", "-", "o.aec", stdin=b"", cwd=tmp_path)
    assert r.returncode == 3 and r.stderr.count(b"\n") == 1 and b"<stdin>: empty" in r.stderr
    assert not (tmp_path / "o.aec").exists()


def test_fifo_input(wav_bytes: bytes, tmp_path: Path, tiny_model: Path) -> None:
    fifo = tmp_path / "in.wav"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(wav_bytes)

    writer = threading.Thread(target=feed)
    writer.start()
    r = aecodec("encode", fifo, "o.aec", "-b", "3", "--model", tiny_model, cwd=tmp_path,
                env={"AECODEC_MODELS": str(tiny_model.parent)})
    writer.join()
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.aec").read_bytes()[:4] == b"AEC\x00"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_plain_open_permissions(wav_bytes: bytes, tmp_path: Path,
                                            tiny_model: Path, umask: int, mode: int) -> None:
    (tmp_path / "in.wav").write_bytes(wav_bytes)
    env = {"AECODEC_MODELS": str(tiny_model.parent)}
    r = aecodec("encode", "in.wav", "o.aec", "-b", "3", "--model", tiny_model, cwd=tmp_path, env=env, umask=umask)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "o.aec").stat().st_mode) == mode
    r = aecodec("decode", "o.aec", "o.wav", "--iters", "1", cwd=tmp_path, env=env, umask=umask)
    assert r.returncode == 0 and stat.S_IMODE((tmp_path / "o.wav").stat().st_mode) == mode


def test_force_keeps_the_mode_of_the_file_it_replaces(wav_bytes: bytes, tmp_path: Path,
                                                      tiny_model: Path) -> None:
    (tmp_path / "in.wav").write_bytes(wav_bytes)
    old = tmp_path / "o.aec"
    old.write_bytes(b"old")
    old.chmod(0o640)
    r = aecodec("encode", "in.wav", "o.aec", "-b", "3", "--model", tiny_model, "-f", cwd=tmp_path, umask=0o022,
                env={"AECODEC_MODELS": str(tiny_model.parent)})
    assert r.returncode == 0, r.stderr
    assert old.read_bytes()[:4] == b"AEC\x00" and stat.S_IMODE(old.stat().st_mode) == 0o640
