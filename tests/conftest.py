"""Shared fixtures: synthetic music, a tiny randomly initialised model, the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aecodec.model.autoencoder import Autoencoder, ModelConfig
from aecodec.model.weights import save_weights


def synth_music(seconds: float = 3.0, rate: int = 22050, *, seed: int = 0,
                channels: int = 1) -> np.ndarray:
    """Notes with harmonics and decaying envelopes plus noise hits: ``[frames, channels]``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    beat = 0.25
    for k in range(int(seconds / beat)):
        start = int(k * beat * rate)
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        env = np.exp(-np.arange(n - start) / rate * 6)
        note = sum(np.sin(2 * np.pi * f0 * h * t[: n - start]) / h for h in range(1, 6))
        out[start:] += 0.15 * env * note
        if k % 2 == 0:
            out[start:start + 2000] += 0.1 * rng.standard_normal(min(2000, n - start)) * \
                np.exp(-np.arange(min(2000, n - start)) / 300)
    out = out / max(1.0, np.abs(out).max() * 1.1)
    chans = [out * (1 - 0.2 * c) for c in range(channels)]
    return np.stack(chans, axis=1).astype(np.float32)


def payload_kinds(payload: bytes) -> set[int]:
    """The stream kinds a chunk payload holds (layout: docs/format.md, "Chunk payload")."""
    import struct

    pos, out = 1, set()
    for _ in range(payload[0]):
        kind, _, n = struct.unpack_from("<BfI", payload, pos)
        out.add(kind)
        pos += 9 + n
    return out


def fuzz_model(folder: Path, *, model_id: str, seed: int) -> Path:
    """A tiny random model (8 hidden, 4 latent channels) saved in ``folder``."""
    torch.manual_seed(seed)
    return save_weights(Autoencoder(ModelConfig(hidden=8, latent=4, blocks=1)), folder,
                        model_id=model_id)


@pytest.fixture
def music_wav(tmp_path: Path) -> Path:
    """A 3-s 44.1 kHz stereo WAV of synthetic music."""
    path = tmp_path / "music.wav"
    sf.write(path, synth_music(3.0, 44100, channels=2), 44100, subtype="PCM_16")
    return path


@pytest.fixture
def tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny random model saved as ``tiny-test-<sha>.npz`` in a folder on AECODEC_MODELS."""
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(hidden=16, latent=8, blocks=1))
    with torch.no_grad():  # a spread-out latent, so rate control has a range to work with
        model.encoder.net[-1].weight.mul_(40.0)
    folder = tmp_path / "models"
    path = save_weights(model, folder, model_id="tiny-test", info={"purpose": "tests"})
    monkeypatch.setenv("AECODEC_MODELS", str(folder))
    return path


REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
