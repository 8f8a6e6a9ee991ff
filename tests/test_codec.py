"""The codec pipeline with a tiny random model: round trips, rate control, metadata checks."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import CHUNK_FRAMES, encode_audio
from aecodec.dsp.audio import Audio
from aecodec.errors import AecError, FormatError, ModelError
from aecodec.format import container
from aecodec.format.meta import validate_meta
from aecodec.model.registry import load_model
from aecodec.model.weights import find_weights, load_weights

from .conftest import payload_kinds, synth_music


def _audio(seconds: float = 3.0, rate: int = 44100, channels: int = 2) -> Audio:
    return Audio(samples=synth_music(seconds, rate, channels=channels), rate=rate)


def test_round_trip_shape_rate_length(tiny_model: Path) -> None:
    audio = _audio(2.5, 44100, 2)
    enc = encode_audio(audio, kbps=1.0, model=load_model(path=tiny_model))
    aec = enc.to_bytes()
    out, rate, damaged = decode_audio(aec, iters=4)
    assert (rate, damaged) == (44100, 0)
    assert out.shape == (audio.frames, 2) and out.dtype == np.float32
    assert np.isfinite(out).all()
    out16, rate16, _ = decode_audio(aec, iters=4, rate=16000)
    assert rate16 == 16000 and out16.shape[0] == round(audio.frames * 16000 / 44100)


def test_decode_is_deterministic(tiny_model: Path) -> None:
    enc = encode_audio(_audio(1.0), kbps=1.0, model=load_model(path=tiny_model))
    aec = enc.to_bytes()
    a, _, _ = decode_audio(aec, iters=3)
    b, _, _ = decode_audio(aec, iters=3)
    assert np.array_equal(a, b)


def test_metadata_fields(tiny_model: Path) -> None:
    audio = _audio(7.0, 32000, 1)
    enc = encode_audio(audio, kbps=1.0, model=load_model(path=tiny_model))
    meta = enc.meta
    assert meta["codec"] == "aecodec" and meta["model"]["id"] == "tiny-test"
    assert load_weights(tiny_model)[1]["sha256"].startswith(meta["model"]["sha256"])
    assert (meta["rate"], meta["channels"], meta["length"]) == (32000, 1, 7 * 32000)
    assert meta["latent"][0] == 8 and meta["frames"] == (7 * 22050) // 256 + 1
    assert len(enc.chunks) == -(-meta["latent"][1] // CHUNK_FRAMES) == 2


def test_rate_control_monotone(tiny_model: Path) -> None:
    audio = _audio(6.0, 22050, 1)
    model = load_model(path=tiny_model)
    sizes = [encode_audio(audio, kbps=k, model=model).nbytes for k in (0.5, 1.0, 1.5)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_bitrate_out_of_range(tiny_model: Path) -> None:
    with pytest.raises(AecError, match="bitrate 100 kbps"):
        encode_audio(_audio(1.0), kbps=100, model=load_model(path=tiny_model))


def test_silence_round_trips_to_silence_like_output(tiny_model: Path) -> None:
    audio = Audio(samples=np.zeros((22050, 1), np.float32), rate=22050)
    enc = encode_audio(audio, kbps=1.0, model=load_model(path=tiny_model))
    out, _, _ = decode_audio(enc.to_bytes(), iters=2)
    assert np.isfinite(out).all() and out.shape == (22050, 1)


@pytest.mark.parametrize("key, value, message", [
    ("codec", "opus", "codec 'opus'"), ("rate", 1, "rate=1"), ("rate", 10**9, "rate="),
    ("channels", 0, "channels=0"), ("length", -5, "length=-5"), ("frames", 3, "latent shape"),
    ("latent", [8, 10**7], "latent shape"), ("latent", "x", "latent shape"),
    ("quant", {"dtype": "int16"}, "quantizer"), ("coder", "lzma", "coder"),
    ("image", None, "stereo image"), ("image", {"slot": 8}, "stereo image"),
    ("stereo", "ild", "stereo 'ild' with ild None"), ("stereo", "5.1", "stereo"),
    ("model", None, "model None"), ("n_fft", True, "n_fft=True"),
])
def test_forged_metadata_refused(tiny_model: Path, key: str, value: object, message: str) -> None:
    enc = encode_audio(_audio(1.0), kbps=1.0, model=load_model(path=tiny_model))
    meta = copy.deepcopy(enc.meta)
    meta[key] = value
    with pytest.raises(FormatError, match=message):
        validate_meta(meta, name="x.aec")


def test_missing_chunk_count_mismatch(tiny_model: Path) -> None:
    enc = encode_audio(_audio(13.0, 22050, 1), kbps=1.0, model=load_model(path=tiny_model))
    data = container.pack(enc.meta, enc.chunks[:-1])
    with pytest.raises(FormatError, match="holds 2 chunks, metadata implies 3"):
        decode_audio(data, name="x.aec", iters=1)


def test_damaged_chunk_ignored_as_silence(tiny_model: Path) -> None:
    enc = encode_audio(_audio(13.0, 22050, 1), kbps=1.0, model=load_model(path=tiny_model))
    data = bytearray(enc.to_bytes())
    data[-20] ^= 0xFF  # inside the last chunk's payload
    with pytest.raises(FormatError, match="chunk 3 of 3 is corrupted"):
        container.unpack(bytes(data), name="x.aec")
    with pytest.raises(FormatError, match="chunk 3 of 3 is corrupted"):
        decode_audio(bytes(data), name="x.aec", iters=1)
    out, _, damaged = decode_audio(bytes(data), iters=1, ignore_errors=True)
    assert damaged == 1 and np.isfinite(out).all() and out.shape == (13 * 22050, 1)


def test_model_not_found_and_tampered(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model nope not found"):
        find_weights("nope")
    tampered = tmp_path / tiny_model.name
    data = bytearray(tiny_model.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the name"):
        load_weights(tampered)
    renamed = tmp_path / "tiny-test-000000000000.npz"
    renamed.write_bytes(tiny_model.read_bytes())
    with pytest.raises(ModelError, match="tampered"):
        load_weights(renamed)


def test_enhancement_layer_spends_the_bits_and_improves_quality(tiny_model: Path) -> None:
    from aecodec.bench.metrics import mel_l1
    from aecodec.format.payload import RESIDUAL
    audio = _audio(6.0, 22050, 1)
    model = load_model(path=tiny_model)
    low = encode_audio(audio, kbps=1.0, model=model, enhance=False)
    high = encode_audio(audio, kbps=24.0, model=model)
    assert abs(high.nbytes * 8 / 6.0 / 1000 - 24.0) < 2.4

    assert all(RESIDUAL not in payload_kinds(c) for c in low.chunks)
    assert all(RESIDUAL in payload_kinds(c) for c in high.chunks)
    ref = audio.samples[:, 0]
    errs = [mel_l1(ref, decode_audio(e.to_bytes(), iters=8)[0][:, 0], rate=22050)
            for e in (low, high)]
    assert errs[1] < errs[0]


def test_forged_residual_shape_is_refused(tiny_model: Path) -> None:
    from aecodec.coding.residual import encode_dct
    from aecodec.format.payload import LATENT, RESIDUAL, encode_stream, pack_payload
    enc = encode_audio(_audio(2.0, 22050, 1), kbps=1.0, model=load_model(path=tiny_model))
    width = enc.meta["latent"][1]
    latent = np.zeros((8, width), np.int8)
    bogus = encode_dct(np.zeros((513, 3)), scale=1.0)
    payload = pack_payload([(LATENT, 0.5, encode_stream(latent)), (RESIDUAL, 1.0, bogus)])
    data = container.pack(enc.meta, [payload])
    with pytest.raises(FormatError, match="residual stream of shape"):
        decode_audio(data, iters=1)


def test_encode_is_deterministic_and_lands_on_its_rate(tiny_model: Path) -> None:
    """The worker thread that codes chunk k while chunk k + 1 is analysed changes nothing:
    two encodes give the same bytes, and a multi-chunk file lands within 10 % of its rate."""
    audio = _audio(14.0, 22050, 1)
    model = load_model(path=tiny_model)
    a, b = (encode_audio(audio, kbps=6.0, model=model).to_bytes() for _ in range(2))
    assert a == b
    assert len(container.unpack(a).chunks) >= 3
    assert abs(len(a) * 8 / 14.0 / 1000 - 6.0) < 0.6


def test_a_failing_chunk_coder_raises_instead_of_hanging(tiny_model: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from aecodec.codec import encode as codec

    calls = []

    def broken(*args: object, **kwargs: object) -> tuple[bytes, float]:
        calls.append(1)
        raise AecError("chunk coder failed")

    monkeypatch.setattr(codec, "chunk_payload", broken)
    with pytest.raises(AecError, match="chunk coder failed"):
        encode_audio(_audio(36.0, 22050, 1), kbps=6.0, model=load_model(path=tiny_model))
    assert len(calls) <= 3  # of 7 chunks: the first failure stops the encode (two may queue)


def test_decode_logmag_adds_the_enhancement_layer(tiny_model: Path) -> None:
    """Diagnostics read the whole file's decoded ln-magnitudes: decoder net + residual layer."""
    from aecodec.codec.decode import decode_latent, decode_logmag
    audio = _audio(3.0, 22050, 1)
    model = load_model(path=tiny_model)
    data = encode_audio(audio, kbps=24.0, model=model).to_bytes()
    out = decode_logmag(data)
    aec = container.unpack(data)
    assert out.shape[0] == 1 and out.shape[2] == aec.meta["frames"]
    assert out.dtype == np.float32 and np.isfinite(out).all()
    latent, steps = decode_latent(aec)
    base = model[0].decode(latent[None], step=steps[None, None], frames=aec.meta["frames"])
    assert np.abs(out - base).max() > 0.01  # the residual layer is there at 24 kbps


@pytest.mark.parametrize("samples", [1, 2, 80, 300])
def test_files_of_a_few_samples_round_trip(tiny_model: Path, samples: int) -> None:
    """Shorter than half an STFT window at the model rate: zero padding, not reflect (a 10-ms
    file used to crash the encoder and the decoder with a torch error)."""
    rng = np.random.default_rng(samples)
    audio = Audio(samples=(0.1 * rng.standard_normal((samples, 1))).astype(np.float32), rate=8000)
    coded = encode_audio(audio, kbps=6.0, model=load_model(path=tiny_model))
    out, rate, _ = decode_audio(coded.to_bytes(), iters=2)
    assert out.shape == (samples, 1) and rate == 8000 and np.isfinite(out).all()
