"""The public API of ``import aecodec``: plain strings and arrays in, one error type out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import aecodec

from .conftest import synth_music


def test_encode_decode_arrays_round_trip() -> None:
    x = synth_music(3.0, 44100, channels=2)
    data = aecodec.encode(x, 44100, kbps=6)
    assert isinstance(data, bytes) and data[:4] == b"AEC\x00"
    kbps = len(data) * 8 / 3.0 / 1000
    assert 5.0 < kbps < 7.0
    audio, rate = aecodec.decode(data)
    assert rate == 44100 and audio.shape == x.shape and audio.dtype == np.float32
    mono, _ = aecodec.decode(aecodec.encode(x[:, 0], 44100))  # [samples] is mono
    assert mono.shape == (x.shape[0], 1)


def test_file_functions_take_plain_strings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sf.write("a.wav", synth_music(3.0, 22050), 22050)
    enc = aecodec.encode_file("a.wav", "a.aec")
    assert Path("a.aec").stat().st_size == enc["bytes"]
    info = aecodec.info("a.aec")
    assert info["bytes"] == enc["bytes"] and info["rate"] == 22050 and info["chunks"] >= 1
    dec = aecodec.decode_file("a.aec", "b.wav")
    assert dec["frames"] == sf.info("b.wav").frames == 3 * 22050
    with pytest.raises(aecodec.AecError, match="exists"):
        aecodec.encode_file("a.wav", "a.aec")  # no clobber without force
    assert aecodec.encode_file("a.wav", "a.aec", force=True)["bytes"] > 0


def test_classify_from_string_path(tmp_path: Path) -> None:
    src = tmp_path / "a.wav"
    sf.write(src, synth_music(12.0, 22050), 22050)
    out = aecodec.classify(str(src))
    assert out["label"] in [t["label"] for t in out["top"]] and 0 <= out["probability"] <= 1
    with pytest.raises(aecodec.AecError, match="no such file"):
        aecodec.classify(str(tmp_path / "missing.wav"))


@pytest.mark.parametrize("bad", [np.zeros((0,)), np.zeros((4, 3, 2)), np.full(100, np.nan)])
def test_bad_arrays_are_aec_errors(bad: np.ndarray) -> None:
    with pytest.raises(aecodec.AecError):
        aecodec.encode(bad, 22050)


def test_bad_rate_and_unknown_name() -> None:
    with pytest.raises(aecodec.AecError, match="sample rate 100 Hz"):
        aecodec.encode(np.zeros(1000, np.float32), 100)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aecodec.nope  # noqa: B018


def test_import_is_light() -> None:
    code = "import sys, aecodec; print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
