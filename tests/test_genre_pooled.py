"""The pooled genre classifier: file-level latent statistics and the side layers (high band,
stereo image) read from a ``.aec`` without decoding, or analysed from audio; the two agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import Audio
from aecodec.errors import InputError, ModelError
from aecodec.genre.head import classify_file, file_latent, load_classifier, silent_frames
from aecodec.genre.pooled import (
    POOLED_TYPE,
    STATS,
    PooledClassifier,
    audio_side_pieces,
    fit_logreg,
    logreg_probs,
    pooled_features,
    state_of,
)
from aecodec.genre.side import (
    HB_BANDS,
    SIDE_FEATURES,
    STEREO_FEATURES,
    aec_side,
    audio_side,
    highband_features,
    side_features,
    stereo_features,
)
from aecodec.model.npz_weights import CLASSIFIER_KIND, save_npz
from aecodec.model.registry import load_model

RATE = 44100


def _stereo(seconds: float, *, seed: int, wide: bool) -> np.ndarray:
    """Chords with noise hiss up to 20 kHz; ``wide``: the parts hard-panned apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    a = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2
    b = 0.2 * np.sin(2 * np.pi * 330 * t + 1.0)
    hiss = 0.02 * np.diff(rng.standard_normal(len(t) + 1))
    if wide:
        return np.stack([a + hiss, b + 0.3 * hiss], 1).astype(np.float32)
    m = (a + b) / 2 + hiss
    return np.stack([m, m], 1).astype(np.float32)


def test_pooled_features_shape_and_silence() -> None:
    z = np.random.default_rng(0).standard_normal((8, 300))
    f = pooled_features(z)
    assert f.shape == (len(STATS) * 8,)
    assert np.allclose(f[:8], z.mean(1)) and np.allclose(f[8:16], z.std(1))
    quiet = np.zeros(300, bool)
    quiet[:100] = True
    assert np.allclose(pooled_features(z, quiet)[:8], z[:, 100:].mean(1))


def test_logreg_separates_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(1.5, 1, (40, 5))])
    y = np.repeat([0, 1], 40)
    m = fit_logreg(x, y, classes=2, lam=0.1)
    acc = float((logreg_probs(m, x).argmax(1) == y).mean())
    assert acc > 0.9
    m2 = fit_logreg(x, y, classes=2, lam=0.1)
    assert all(np.array_equal(m[k], m2[k]) for k in m)


def test_side_features_of_mono_and_missing_layers() -> None:
    hb = highband_features(None)
    assert hb.shape == (5 * HB_BANDS,) and np.all(hb.reshape(HB_BANDS, 5)[:, 0] == 1.0)
    st = stereo_features(None, None)
    env, q_ild, q_icc = audio_side(_stereo(3, seed=0, wide=False), RATE)
    assert env is not None and np.isfinite(env).mean() > 0.9  # hiss up to 20 kHz
    assert np.abs(q_ild).max() == 0 and np.all(q_icc == 0)  # identical channels
    assert np.allclose(stereo_features(q_ild, q_icc), st)
    env22, _, _ = audio_side(_stereo(3, seed=0, wide=False)[::2], RATE // 2)
    assert env22 is None  # a 22.05 kHz source has no high band
    wide = stereo_features(*audio_side(_stereo(3, seed=0, wide=True), RATE)[1:])
    assert wide[:4].max() > 3.0 and wide[-1] < 0.9  # level differences, less coherent


@pytest.mark.parametrize("kbps", [3.0, 12.0])
def test_aec_side_layers_match_the_audio_analysis(tmp_path: Path, kbps: float) -> None:
    """What classify reads from a .aec's high-band and stereo layers (no decode) gives the
    features the encoder's analysis of the audio gives."""
    x = _stereo(8, seed=2, wide=True)
    wav = tmp_path / "a.wav"
    sf.write(wav, x, RATE, subtype="PCM_16")
    aec = tmp_path / "a.aec"
    aec.write_bytes(encode_audio(Audio(x, RATE), kbps=kbps).to_bytes())
    _, meta = load_model()
    layers: dict = {}
    file_latent(aec, {"id": meta["model_id"], "sha256": meta["sha256"]}, layers=layers)
    from_aec = side_features(*aec_side(layers["chunks"], layers["meta"]))
    from_wav = side_features(*audio_side_pieces(wav, name="a.wav"))
    assert from_aec.shape == from_wav.shape == (SIDE_FEATURES,)
    hb_a, hb_w = from_aec[:5 * HB_BANDS].reshape(HB_BANDS, 5), from_wav[:5 * HB_BANDS].reshape(HB_BANDS, 5)
    assert np.abs(hb_a[:, 1] - hb_w[:, 1]).max() < 2.0  # mean band level, dB
    assert np.abs(from_aec[5 * HB_BANDS:] - from_wav[5 * HB_BANDS:]).max() < 0.5


@pytest.fixture(scope="module")
def pooled_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pooled classifier (latent + side) for the shipped codec, fitted on synthetic features:
    'wide' files against 'narrow' ones."""
    net, meta = load_model()
    d = len(STATS) * net.cfg.latent + SIDE_FEATURES
    w = np.zeros((d, 2))
    w[-1] = [-10.0, 10.0]  # the coherent share of the stereo image: "wide" under 0.7
    model = {"mu": np.zeros(d), "sd": np.ones(d), "w": w, "b": np.array([7.0, -7.0])}
    dm = d - STEREO_FEATURES  # the mono model: always "mono"
    mono = {"mu": np.zeros(dm), "sd": np.ones(dm), "w": np.zeros((dm, 4)),
            "b": np.array([0.0, 0.0, 5.0, 0.0])}
    dl = len(STATS) * net.cfg.latent  # the latent-only model (no side layers): always "plain"
    plain = {"mu": np.zeros(dl), "sd": np.ones(dl), "w": np.zeros((dl, 4)),
             "b": np.array([0.0, 0.0, 0.0, 5.0])}
    w4 = np.zeros((d, 4))
    w4[:, :2] = w
    model = {**model, "w": w4, "b": np.array([7.0, -7.0, -50.0, -50.0])}
    header = {"kind": CLASSIFIER_KIND, "model_id": "pooled-test",
              "labels": ["wide", "narrow", "mono", "plain"],
              "config": {"type": POOLED_TYPE, "channels": net.cfg.latent, "segment": 64,
                         "silence_threshold": 0.05, "features": ["latent", "highband", "stereo"],
                         "fallbacks": {"mono_": ["latent", "highband"],
                                       "latent_": ["latent"]}},
              "codec": {"id": meta["model_id"], "sha256": meta["sha256"]}, "info": {}}
    from aecodec.train.classifier import silence_latent
    silence = silence_latent(net).numpy()
    state = state_of(model, silence)
    for prefix, m in (("mono_", mono), ("latent_", plain)):
        state.update({prefix + k: v for k, v in state_of(m, silence).items() if k != "silence"})
    return save_npz(header, state, tmp_path_factory.mktemp("pooled"), model_id="pooled-test")


def test_pooled_classifier_audio_and_aec_agree(pooled_model: Path, tmp_path: Path) -> None:
    clf, meta = load_classifier(pooled_model)
    assert isinstance(clf, PooledClassifier) and clf.labels == ["wide", "narrow", "mono", "plain"]
    for wide in (True, False):
        x = _stereo(6, seed=4, wide=wide)
        wav = tmp_path / f"{wide}.wav"
        sf.write(wav, x, RATE, subtype="PCM_16")
        ref = classify_file(wav, head=clf, meta=meta)
        assert ref["label"] == ("wide" if wide else "narrow") and ref["input"] == "audio"
        for kbps in (3.0, 6.0, 12.0):
            aec = tmp_path / f"{wide}-{kbps}.aec"
            aec.write_bytes(encode_audio(Audio(x, RATE), kbps=kbps).to_bytes())
            got = classify_file(aec, head=clf, meta=meta)
            assert got["label"] == ref["label"] and got["input"] == "aec"
            assert abs(got["probability"] - ref["probability"]) < 0.1
    # a mono file (and its .aec) has no stereo image: it gets the mono model
    x = _stereo(6, seed=4, wide=True).mean(1)
    wav = tmp_path / "mono.wav"
    sf.write(wav, x, RATE, subtype="PCM_16")
    aec = tmp_path / "mono.aec"
    aec.write_bytes(encode_audio(Audio(x[:, None], RATE), kbps=6.0).to_bytes())
    assert classify_file(wav, head=clf, meta=meta)["label"] == "mono"
    assert classify_file(aec, head=clf, meta=meta)["label"] == "mono"
    # a mono 22.05 kHz file has neither side layer: the latent-only model
    wav = tmp_path / "mono22.wav"
    sf.write(wav, x[::2], RATE // 2, subtype="PCM_16")
    aec = tmp_path / "mono22.aec"
    aec.write_bytes(encode_audio(Audio(x[::2, None], RATE // 2), kbps=6.0).to_bytes())
    assert classify_file(wav, head=clf, meta=meta)["label"] == "plain"
    assert classify_file(aec, head=clf, meta=meta)["label"] == "plain"
    # a stereo file coded under 1.5 kbps has no high band; with no latent + stereo fallback
    # here, the model that reads only what it has is the latent-only one
    x = _stereo(6, seed=4, wide=True)
    aec = tmp_path / "low.aec"
    aec.write_bytes(encode_audio(Audio(x, RATE), kbps=1.0).to_bytes())
    assert classify_file(aec, head=clf, meta=meta)["label"] == "plain"


def test_pooled_refusals(pooled_model: Path, tmp_path: Path) -> None:
    clf, meta = load_classifier(pooled_model)
    short = tmp_path / "short.wav"
    sf.write(short, _stereo(1, seed=5, wide=True), RATE, subtype="PCM_16")
    with pytest.raises(InputError, match="too short"):
        classify_file(short, head=clf, meta=meta)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((5 * RATE, 2), np.float32), RATE, subtype="PCM_16")
    with pytest.raises(InputError, match="no music"):
        classify_file(silent, head=clf, meta=meta)


def test_pooled_file_with_bad_weights_is_refused(tmp_path: Path) -> None:
    header = {"kind": CLASSIFIER_KIND, "model_id": "bad", "labels": ["a", "b"],
              "config": {"type": POOLED_TYPE, "channels": 64, "segment": 64,
                         "silence_threshold": 0.05, "features": ["latent"]},
              "codec": {"id": "c", "sha256": "0" * 64}, "info": {}}
    model = {"mu": np.zeros(3), "sd": np.ones(3), "w": np.zeros((3, 2)), "b": np.zeros(2)}
    path = save_npz(header, state_of(model, np.zeros(64)), tmp_path, model_id="bad")
    with pytest.raises(ModelError, match="do not match"):
        load_classifier(path)


def test_silent_frames_agree_with_the_runtime() -> None:
    z = np.zeros((4, 10), np.float32)
    assert silent_frames(z, np.zeros(4, np.float32), threshold=0.01).all()


def test_the_previous_conv_head_file_still_classifies(tmp_path: Path) -> None:
    """Old classifier files (a conv head: no ``type`` in its config) keep loading and running
    through the segment path beside the pooled one."""
    from aecodec.model.np_nets import NpGenreHead
    old = Path(__file__).parent / "data" / "aecodec-genres-655c45ce3c3e.npz"
    head, meta = load_classifier(old)
    assert isinstance(head, NpGenreHead)
    wav = tmp_path / "a.wav"
    sf.write(wav, _stereo(6, seed=6, wide=True), RATE, subtype="PCM_16")
    aec = tmp_path / "a.aec"
    aec.write_bytes(encode_audio(Audio(_stereo(6, seed=6, wide=True), RATE), kbps=6.0).to_bytes())
    a, b = classify_file(wav, head=head, meta=meta), classify_file(aec, head=head, meta=meta)
    assert a["label"] in head.labels and a["label"] == b["label"]
