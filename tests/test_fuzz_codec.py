"""Hostile .aec files through the whole decoder: only aecodec's own errors, bounded work."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aecodec import container
from aecodec.audio import Audio
from aecodec.codec import decode_audio, encode_audio, load_model
from aecodec.errors import AecError

from .conftest import synth_music


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    import torch

    from aecodec.checkpoint import save_weights
    from aecodec.model import Autoencoder, ModelConfig
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("models")
    path = save_weights(Autoencoder(ModelConfig(hidden=8, latent=4, blocks=1)), folder,
                        model_id="fuzz-tiny")
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
