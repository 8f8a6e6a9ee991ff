"""Audio I/O, resampling, the STFT front end and Griffin-Lim."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aecodec.dsp.audio import fit_length, mixdown, read_audio, write_wav
from aecodec.dsp.griffinlim import griffin_lim
from aecodec.dsp.resample import resample
from aecodec.dsp.stft import LOG_EPS, StftConfig, istft, log_magnitude, magnitude_from_log, stft
from aecodec.errors import InputError

from .conftest import synth_music


@pytest.mark.parametrize("kind", ["path", "fileobj", "bytesio"])
def test_read_audio_sources(tmp_path: Path, kind: str) -> None:
    x = synth_music(1.0, 16000, channels=2)
    path = tmp_path / "a.flac"
    sf.write(path, x, 16000, subtype="PCM_16")
    if kind == "path":
        audio = read_audio(path)
    elif kind == "fileobj":
        with open(path, "rb") as f:
            audio = read_audio(f, name="a.flac")
    else:
        audio = read_audio(io.BytesIO(path.read_bytes()), name="a.flac")
    assert (audio.rate, audio.channels, audio.frames) == (16000, 2, 16000)
    np.testing.assert_allclose(audio.samples, x, atol=1 / 32768)


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"), ("directory", "is a directory"), ("empty", "empty file"),
    ("garbage", "not a readable audio file"), ("zero", "zero-length"), ("nan", "NaN or infinite"),
    ("rate_low", "outside 8000..192000"), ("rate_high", "outside 8000..192000"),
])
def test_read_audio_bad_input(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "bad.wav"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "garbage":
        path.write_bytes(b"this is not audio at all" * 10)
    elif case == "zero":
        sf.write(path, np.zeros((0, 1), np.float32), 22050)
    elif case == "nan":
        x = np.zeros((100, 1), np.float32)
        x[5] = np.nan
        x[7] = np.inf
        sf.write(path, x, 22050, subtype="FLOAT")
    elif case in ("rate_low", "rate_high"):
        sf.write(path, np.zeros((100, 1), np.float32), 1 if case == "rate_low" else 768000)
    with pytest.raises(InputError, match=message) as err:
        read_audio(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_mixdown_and_fit_length() -> None:
    x = np.array([[1.0, 0.0], [0.5, 0.5]], np.float32)
    np.testing.assert_array_equal(mixdown(x), [0.5, 0.5])
    assert fit_length(np.ones(5), 3).tolist() == [1, 1, 1]
    assert fit_length(np.ones(2), 4).tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize("orig, new", [(44100, 22050), (8000, 22050), (48000, 22050), (22050, 22050)])
def test_resample_length_and_tone(orig: int, new: int) -> None:
    t = np.arange(orig) / orig
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = resample(x, orig_rate=orig, new_rate=new)
    assert len(y) == int(np.ceil(orig * new / orig))
    spectrum = np.abs(np.fft.rfft(y[len(y) // 4: 3 * len(y) // 4]))
    peak_hz = np.argmax(spectrum) * new / (len(y) // 2)
    assert abs(peak_hz - 440) < 5


def test_write_wav_roundtrip(tmp_path: Path) -> None:
    x = synth_music(0.5, 22050)
    write_wav(tmp_path / "o.wav", x, rate=22050, subtype="PCM_24")
    y, rate = sf.read(tmp_path / "o.wav", dtype="float32", always_2d=True)
    assert rate == 22050 and sf.info(tmp_path / "o.wav").subtype == "PCM_24"
    np.testing.assert_allclose(y, x, atol=1e-6)
    with pytest.raises(ValueError, match="subtype='MP3'"):
        write_wav(tmp_path / "o.wav", x, rate=22050, subtype="MP3")


def test_stft_istft_exact_inverse() -> None:
    x = torch.from_numpy(synth_music(1.0, 22050)[:, 0])[None]
    spec = stft(x, n_fft=1024, hop=256)
    assert spec.shape == (1, 513, 22050 // 256 + 1)
    y = istft(spec, n_fft=1024, hop=256, length=x.shape[-1])
    assert torch.max(torch.abs(x - y)) < 1e-5


def test_log_magnitude_floor_and_inverse() -> None:
    silence = torch.zeros(1, 4096)
    logmag = log_magnitude(silence, n_fft=512, hop=128)
    assert torch.allclose(logmag, torch.full_like(logmag, np.log(LOG_EPS)))
    assert torch.all(magnitude_from_log(logmag) < 1e-10)


def test_stft_config_validation() -> None:
    assert StftConfig().bins == 513 and StftConfig().frames(22050) == 87
    with pytest.raises(ValueError, match="n_fft=1000"):
        StftConfig(n_fft=1000)
    with pytest.raises(ValueError, match="hop=600"):
        StftConfig(hop=600)


def _spectral_convergence(x: torch.Tensor, y: torch.Tensor) -> float:
    a, b = stft(x, n_fft=1024, hop=256).abs(), stft(y, n_fft=1024, hop=256).abs()
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(a))


def test_griffin_lim_deterministic_and_converges() -> None:
    x = torch.from_numpy(synth_music(1.5, 22050, seed=3)[:, 0])[None]
    mag = stft(x, n_fft=1024, hop=256).abs()
    a = griffin_lim(mag, n_fft=1024, hop=256, length=x.shape[-1], iters=16, seed=7)
    b = griffin_lim(mag, n_fft=1024, hop=256, length=x.shape[-1], iters=16, seed=7)
    assert torch.equal(a, b)
    errors = [_spectral_convergence(x, griffin_lim(mag, n_fft=1024, hop=256, length=x.shape[-1],
                                                   iters=n)) for n in (0, 8, 32)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.25
    # the fast variant converges faster than plain Griffin-Lim
    plain = griffin_lim(mag, n_fft=1024, hop=256, length=x.shape[-1], iters=8, momentum=0.0)
    assert errors[1] < _spectral_convergence(x, plain)


@pytest.mark.parametrize("kwargs, message", [({"iters": -1}, "iters=-1"),
                                             ({"momentum": 1.0}, "momentum=1.0")])
def test_griffin_lim_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        griffin_lim(torch.ones(1, 513, 4), n_fft=1024, hop=256, length=768, **kwargs)
