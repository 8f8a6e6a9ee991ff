"""Hostile .aec files through the whole decoder: only aecodec's own errors, bounded work."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import Audio
from aecodec.errors import AecError
from aecodec.format import container
from aecodec.model.registry import load_model

from .conftest import fuzz_model, synth_music


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    path = fuzz_model(tmp_path_factory.mktemp("models"), model_id="fuzz-tiny", seed=1)
    data = encode_audio(Audio(synth_music(7.0, 8000, channels=2), 8000), kbps=2,
                        model=load_model(path=path)).to_bytes()
    return data, path


def _decode(data: bytes, path: Path) -> None:
    try:
        decode_audio(data, iters=0, model_path=path)
    except AecError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_files_raise_only_aec_errors(valid_file: tuple[bytes, Path], data: st.DataObject) -> None:
    blob, path = valid_file
    raw = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    _decode(bytes(raw), path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_truncated_and_spliced_files(valid_file: tuple[bytes, Path], data: st.DataObject) -> None:
    blob, path = valid_file
    cut = data.draw(st.integers(0, len(blob)))
    other = data.draw(st.binary(max_size=64))
    _decode(blob[:cut] + other, path)


@pytest.mark.parametrize("meta_patch", [
    {"length": 10**12}, {"latent": [4, 10**8]}, {"frames": 10**9}, {"chunk_frames": 0},
    {"rate": 192001}, {"channels": 10**6}, {"model": {"id": "../../etc/passwd", "sha256": ""}},
])
def test_forged_metadata_with_valid_crc(valid_file: tuple[bytes, Path], meta_patch: dict) -> None:
    blob, path = valid_file
    aec = container.unpack(blob)
    forged = container.pack({**aec.meta, **meta_patch}, [c for c in aec.chunks if c])
    with pytest.raises(AecError):
        decode_audio(forged, iters=0, model_path=path)


def test_payload_with_forged_stream_length(valid_file: tuple[bytes, Path]) -> None:
    import struct
    blob, path = valid_file
    aec = container.unpack(blob)
    chunks = [c for c in aec.chunks if c]
    first = bytearray(chunks[0])
    struct.pack_into("<I", first, 1 + 1 + 4, 0xFFFFFFF0)  # first stream's length field
    forged = container.pack(aec.meta, [bytes(first), *chunks[1:]])
    with pytest.raises(AecError, match="truncated"):
        decode_audio(forged, iters=0, model_path=path)


@pytest.fixture(scope="module")
def ans_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """A stereo file coded with ANS tables fitted (briefly) for a tiny model."""
    from aecodec.coding import ans
    from aecodec.train.entropy import collect, fit_tables
    folder = tmp_path_factory.mktemp("models")
    path = fuzz_model(folder, model_id="fuzz-ans", seed=2)
    model = load_model(path=path)
    data = collect([Audio(synth_music(3.0, 22050, seed=5), 22050)], model, kbps=[3.0, 12.0])
    arrays, _ = fit_tables(data, model_sha=model[1]["sha256"], channels=4, steps=20, keep=0.5)
    ans.save_tables(arrays, folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECODEC_MODELS", str(folder))
        blob = encode_audio(Audio(synth_music(7.0, 22050, channels=2), 22050), kbps=8,
                            model=model).to_bytes()
    assert container.unpack(blob).meta["coder"].startswith("ans-")
    return blob, path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_ans_payloads_mutated_under_valid_crcs(ans_file: tuple[bytes, Path], data: st.DataObject,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes changed INSIDE payloads, CRCs recomputed: the ANS decoder sees garbage words and
    must answer with aecodec's errors or finite audio, never a crash."""
    import numpy as np
    blob, path = ans_file
    monkeypatch.setenv("AECODEC_MODELS", str(path.parent))
    aec = container.unpack(blob)
    chunks = [bytearray(c) for c in aec.chunks if c]
    for _ in range(data.draw(st.integers(1, 6))):
        k = data.draw(st.integers(0, len(chunks) - 1))
        i = data.draw(st.integers(0, len(chunks[k]) - 1))
        chunks[k][i] = data.draw(st.integers(0, 255))
    forged = container.pack(aec.meta, [bytes(c) for c in chunks])
    try:
        out, _, _ = decode_audio(forged, iters=0, model_path=path)
    except AecError:
        return
    assert np.isfinite(out).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.floats(0.01, 4.0), rate=st.sampled_from([8000, 22050, 44100, 48000]),
       channels=st.integers(1, 2), kbps=st.floats(0.5, 64.0))
def test_ans_encoder_any_length_rate_and_bitrate(ans_file: tuple[bytes, Path], seconds: float,
                                                rate: int, channels: int, kbps: float,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = ans_file
    monkeypatch.setenv("AECODEC_MODELS", str(path.parent))
    audio = Audio(synth_music(seconds, rate, channels=channels, seed=7), rate)
    coded = encode_audio(audio, kbps=kbps, model=load_model(path=path))
    assert coded.meta["coder"].startswith("ans-")
    out, out_rate, _ = decode_audio(coded.to_bytes(), iters=0, model_path=path)
    assert out.shape[0] == audio.frames and out_rate == rate
