"""The learned initial phase: exact integration of true derivatives, peaks, the net, the
decoder path with a phase net, and its training command."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import Audio
from aecodec.dsp.stft import stft
from aecodec.model.autoencoder import Autoencoder, ModelConfig
from aecodec.model.phaseinit import (
    PhaseNet,
    basin_peaks,
    initial_phase,
    integrate_phase,
    phase_derivatives,
)
from aecodec.model.registry import load_model
from aecodec.model.weights import load_weights, save_weights

from .conftest import synth_music


def _circular_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.remainder(a - b + math.pi, 2 * math.pi).sub(math.pi).abs().max())


def test_true_derivatives_integrate_back_to_the_true_phase() -> None:
    """Time integration of the peaks and frequency locking of the rest are exact
    (mod 2 pi) when fed the true derivatives and the true phase of the first frame."""
    torch.manual_seed(0)
    audio = torch.from_numpy(synth_music(1.0, 22050)[:, 0])[None] + 0.01 * torch.randn(1, 22050)
    spec = stft(audio, n_fft=512, hop=128)
    dev_t, dev_f = phase_derivatives(spec, n_fft=512, hop=128)
    logmag = torch.log(spec.abs() + 1e-5)
    phase = integrate_phase(logmag, dev_t, dev_f, n_fft=512, hop=128,
                            start=spec.angle()[..., 0])
    assert phase.shape == spec.shape and phase.dtype == torch.float32
    assert _circular_gap(phase, spec.angle()) < 1e-3
    # anchored at a later frame: the same
    later = integrate_phase(logmag, dev_t, dev_f, n_fft=512, hop=128,
                            start=spec.angle()[..., 40], anchor=40)
    assert _circular_gap(later, spec.angle()) < 1e-3


def test_pure_tone_derivatives() -> None:
    """A tone 0.25 bin above bin 20 advances 2 pi hop (20.25) / n_fft a frame."""
    n_fft, hop = 512, 128
    t = torch.arange(8192, dtype=torch.float64)
    audio = torch.cos(2 * math.pi * 20.25 / n_fft * t).float()[None]
    dev_t, _ = phase_derivatives(stft(audio, n_fft=n_fft, hop=hop), n_fft=n_fft, hop=hop)
    expected = 2 * math.pi * hop * 0.25 / n_fft
    assert torch.allclose(dev_t[0, 20, 8:-8], torch.full((dev_t.shape[2] - 16,), expected),
                          atol=1e-3)


def test_basin_peaks_walk_uphill() -> None:
    """Steepest ascent: bin 3 (2.0) has 3.0 on its left and 2.5 on its right, so it climbs
    to the peak at bin 2; bin 6 climbs right to 4.0; ties stay put."""
    col = torch.tensor([0.0, 1.0, 3.0, 2.0, 2.5, 1.0, 1.0, 4.0, 4.0])
    peaks = basin_peaks(col.view(1, -1, 1))[0, :, 0].tolist()
    assert peaks == [2, 2, 2, 2, 4, 4, 7, 7, 8]


def test_integrate_phase_rejects_bad_shapes() -> None:
    a = torch.zeros(1, 5, 4)
    with pytest.raises(ValueError, match="three equal"):
        integrate_phase(a, a, torch.zeros(1, 5, 3), n_fft=8, hop=2)
    with pytest.raises(ValueError, match="anchor=4"):
        integrate_phase(a, a, a, n_fft=8, hop=2, anchor=4)
    with pytest.raises(ValueError, match="channels=0"):
        PhaseNet(channels=0)


def test_phase_net_shapes_and_initial_phase() -> None:
    torch.manual_seed(0)
    net = PhaseNet(channels=4)
    logmag = torch.randn(2, 33, 10)
    assert net(logmag).shape == (2, 4, 33, 10)
    phase = initial_phase(net, logmag, n_fft=64, hop=16)
    assert phase.shape == (2, 33, 10) and bool(((phase >= 0) & (phase < 2 * math.pi)).all())


@pytest.fixture
def tiny_phase_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(hidden=16, latent=8, blocks=1, phase_channels=4,
                                    decode_iters=1))
    folder = tmp_path / "models"
    path = save_weights(model, folder, model_id="tiny-phase", info={"purpose": "tests"})
    monkeypatch.setenv("AECODEC_MODELS", str(folder))
    return path


def test_decoder_with_a_phase_net(tiny_phase_model: Path) -> None:
    """Chunked decode (three chunks, stereo) through the learned initial phase: right
    length, finite, deterministic, and the model's own iteration count is the default."""
    model = load_model(path=tiny_phase_model)
    assert model[0].phase is not None and model[0].cfg.decode_iters == 1
    audio = Audio(samples=synth_music(13.0, 22050, channels=2), rate=22050)
    data = encode_audio(audio, kbps=6.0, model=model).to_bytes()
    a, rate, _ = decode_audio(data)
    b, _, _ = decode_audio(data, iters=1)
    c, _, _ = decode_audio(data, iters=0)
    assert (rate, a.shape) == (22050, (audio.frames, 2)) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_old_weights_load_without_a_phase_net(tiny_model: Path) -> None:
    net, _ = load_weights(tiny_model)
    assert net.phase is None and net.cfg.decode_iters == 32


def test_train_phase_command(tmp_path: Path, tiny_model: Path) -> None:
    pool = tmp_path / "pool"
    pool.mkdir()
    for i in range(2):
        sf.write(pool / f"track{i}.wav", synth_music(31.0, 8000, seed=i), 8000)
    cmd = [sys.executable, "-m", "aecodec.train.phase", "--init", str(tiny_model),
           "--data", str(pool), "--cache", str(tmp_path / "cache"), "--run-dir",
           str(tmp_path / "run"), "--out", str(tmp_path / "out"), "--model-id", "tiny-v2",
           "--channels", "2", "--batch", "2", "--steps", "2", "--decode-iters", "3",
           "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "done: 2 steps" in res.stderr
    (weights,) = (tmp_path / "out").glob("tiny-v2-*.npz")
    net, meta = load_weights(weights)
    base, _ = load_weights(tiny_model)
    assert net.phase is not None and net.cfg.decode_iters == 3
    assert meta["info"]["phase_training"]["steps"] == 2
    # the codec part is the init model's, untouched
    for k, v in base.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k
