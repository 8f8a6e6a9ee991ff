"""The context-adaptive ANS coder: exact round trips, integer contexts, tables files, and the
codec end to end with tables fitted on a tiny model."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio, encode_blocks
from aecodec.coding import ans
from aecodec.dsp.audio import Audio
from aecodec.errors import FormatError, ModelError
from aecodec.format import container
from aecodec.model.registry import load_model
from aecodec.train.entropy import collect, fit_tables, table_pmf

from .conftest import synth_music


def _arrays(channels: int = 4, *, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "pmf": table_pmf(), "L": np.rint(np.log1p(np.arange(ans.CTX_CLIP + 1)) * 256).astype(np.int64),
        "LA": rng.integers(2000, 6000, channels), "LS": np.int64(40),
        "PM": rng.integers(-256, 257, channels), "PB": rng.integers(0, 600, channels),
        "RA": rng.integers(1000, 8000, 256), "RS": np.int64(-30), "ROW": rng.integers(-500, 500, 9),
        "RP": rng.integers(0, 800, 256), "RN": np.int64(300),
        "model_sha": np.frombuffer(b"ab" * 32, dtype=np.uint8),
    }


@pytest.fixture
def tables(tmp_path: Path) -> ans.Tables:
    return ans.load_tables(ans.save_tables(_arrays(), tmp_path))


def test_grid() -> None:
    for j in range(-100, 101):
        assert ans.grid_index(ans.grid_step(j)) == j
        assert ans.snap_up(ans.grid_step(j)) == ans.grid_step(j)
    assert ans.snap_up(1.01) == ans.grid_step(1)
    assert ans.snap_up(2.0) == 2.0
    with pytest.raises(ValueError, match="step=0"):
        ans.grid_index(0)


@pytest.mark.parametrize("j", [-40, 0, 16])
def test_latent_round_trip_with_extremes(tables: ans.Tables, j: int) -> None:
    rng = np.random.default_rng(j + 100)
    x = np.clip(np.rint(rng.laplace(0, 6, (4, 50))), -127, 127).astype(np.int8)
    x[:, 3], x[:, 4], x[0, 0] = 127, -127, -127
    data = ans.encode_latent(x, tables, j)
    assert len(data) % 4 == 0
    np.testing.assert_array_equal(ans.decode_latent(data, tables, j, shape=x.shape), x)
    # the ideal length the rate search uses is within two words of the real one
    assert abs(len(data) - ans.latent_bits(x, tables, j) / 8) <= 8


@pytest.mark.parametrize("spread", [0.2, 3.0, 60.0])
def test_residual_round_trip(tables: ans.Tables, spread: float) -> None:
    rng = np.random.default_rng(int(spread * 10))
    q = np.clip(np.rint(rng.laplace(0, spread, (16, 16, 5, 7))), -ans.SPAN, ans.SPAN).astype(np.int64)
    q[0, 0, 0, 0], q[15, 15, 4, 6] = ans.SPAN, -ans.SPAN
    data = ans.encode_residual(q, tables, 3)
    np.testing.assert_array_equal(ans.decode_residual(data, tables, 3, blocks=(5, 7)), q)
    assert abs(len(data) - ans.residual_bits(q, tables, 3) / 8) <= 8 + 0.005 * len(data)


def test_residual_out_of_range_refused(tables: ans.Tables) -> None:
    q = np.zeros((16, 16, 2, 2), np.int64)
    q[0, 0, 0, 0] = ans.SPAN + 1
    with pytest.raises(ValueError, match="within"):
        ans.encode_residual(q, tables, 0)


def test_bytes_are_pinned(tables: ans.Tables) -> None:
    """The coded bytes of a fixed input never change without a new coder (file format)."""
    rng = np.random.default_rng(5)
    x = np.clip(np.rint(rng.laplace(0, 4, (4, 20))), -127, 127).astype(np.int8)
    q = np.clip(np.rint(rng.laplace(0, 1, (16, 16, 3, 4))), -20, 20).astype(np.int64)
    digest = hashlib.sha256(ans.encode_latent(x, tables, 8) + ans.encode_residual(q, tables, -8))
    assert digest.hexdigest()[:16] == "d056deba07b64bc4"


def test_contexts_are_integers_and_clipped(tables: ans.Tables) -> None:
    prev = np.array([0, 5, 127, -127], np.int64)
    pred, idx = ans.latent_context(prev, tables, 0)
    assert pred.dtype == idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < tables.tables
    res = ans.residual_context(np.full((16, 16, 3), 10**6, np.int64), tables, -4000)
    assert res.min() == res.max() == tables.tables - 1
    with pytest.raises(ValueError, match="j=5000"):
        ans.residual_context(np.zeros((16, 16, 3), np.int64), tables, 5000)


def test_garbage_is_refused_or_bounded(tables: ans.Tables) -> None:
    with pytest.raises(FormatError, match="not whole words"):
        ans.decode_latent(b"abc", tables, 0, shape=(4, 3))
    rng = np.random.default_rng(1)
    for _ in range(20):  # ANS decodes any words; what comes out stays in range or is refused
        data = rng.integers(0, 256, 4 * int(rng.integers(1, 30)), dtype=np.uint8).tobytes()
        try:
            out = ans.decode_latent(data, tables, 0, shape=(4, 10))
            assert out.dtype == np.int8
        except FormatError:
            pass
        out64 = ans.decode_residual(data, tables, 0, blocks=(2, 2))
        assert np.abs(out64).max() <= ans.SPAN


def test_tables_file_checked(tmp_path: Path) -> None:
    path = ans.save_tables(_arrays(), tmp_path)
    assert path.name == f"ans-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}.npz"
    bad = tmp_path / "bad"
    bad.mkdir()
    forged = bad / path.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    forged.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the name"):
        ans.load_tables(forged)
    with pytest.raises(ModelError, match="not found"):
        ans.tables_by_sha("0123456789ab", dirs=[tmp_path])
    with pytest.raises(ValueError, match="misses"):
        ans.save_tables({"pmf": table_pmf()}, tmp_path)


@pytest.fixture
def tiny_tables(tiny_model: Path) -> Path:
    """Tables fitted (briefly) on the tiny model's symbols, saved beside its weights."""
    model = load_model(path=tiny_model)
    clips = [Audio(samples=synth_music(4.0, 22050, seed=s), rate=22050) for s in (1, 2)]
    data = collect(clips, model, kbps=[2.0, 8.0])
    arrays, report = fit_tables(data, model_sha=model[1]["sha256"], channels=model[0].cfg.latent,
                                steps=40, keep=0.5)
    assert report["latent_bits_per_symbol"] > 0
    return ans.save_tables(arrays, tiny_model.parent)


def test_codec_round_trip_with_tables(tiny_model: Path, tiny_tables: Path) -> None:
    audio = Audio(samples=synth_music(5.0, 22050, seed=9), rate=22050)
    model = load_model(path=tiny_model)
    coded = encode_audio(audio, kbps=8.0, model=model)
    assert coded.meta["coder"] == "ans-" + tiny_tables.stem.removeprefix("ans-")
    assert abs(coded.nbytes * 8 / 5.0 / 1000 - 8.0) < 0.8
    zstd = encode_audio(audio, kbps=8.0, model=model, coder="zstd")
    assert zstd.meta["coder"] == "zstd"
    out, rate, damaged = decode_audio(coded.to_bytes(), iters=4)
    assert out.shape == (audio.frames, 1) and rate == 22050 and damaged == 0
    assert np.isfinite(out).all()
    # same file, tables gone: a one-line model error naming them
    data = coded.to_bytes()
    tiny_tables.unlink()
    with pytest.raises(ModelError, match="entropy tables ans-"):
        decode_audio(data)


def test_coder_ans_needs_tables(tiny_model: Path) -> None:
    audio = Audio(samples=synth_music(1.0, 22050), rate=22050)
    with pytest.raises(ModelError, match="no entropy tables"):
        encode_audio(audio, kbps=6.0, model=load_model(path=tiny_model), coder="ans")


def test_off_grid_step_refused(tiny_model: Path, tiny_tables: Path) -> None:
    import struct

    coded = encode_audio(Audio(samples=synth_music(2.0, 22050), rate=22050), kbps=6.0,
                         model=load_model(path=tiny_model))
    payload = bytearray(coded.chunks[0])
    kind, step, n = struct.unpack_from("<BfI", payload, 1)
    struct.pack_into("<BfI", payload, 1, kind, step * 1.01, n)
    forged = container.pack(coded.meta, [bytes(payload), *coded.chunks[1:]])
    with pytest.raises(FormatError, match="not on the entropy coder's grid"):
        decode_audio(forged)


def test_shipped_tables_code_the_shipped_model() -> None:
    """The default model has tables; a file names them and decodes; the rate holds."""
    model = load_model()
    from aecodec.model.registry import tables_for

    tables = tables_for(model)
    assert tables is not None and tables.model_sha == model[1]["sha256"]
    assert tables.channels == model[0].cfg.latent
    audio = Audio(samples=synth_music(4.0, 22050, seed=3), rate=22050)
    coded = encode_audio(audio, kbps=6.0)
    assert coded.meta["coder"] == f"ans-{tables.sha256[:12]}"
    assert abs(coded.nbytes * 8 / 4.0 / 1000 - 6.0) < 0.6
    out, _, _ = decode_audio(coded.to_bytes(), iters=2)
    assert out.shape == (audio.frames, 1) and np.isfinite(out).all()


@pytest.mark.parametrize("coder", ["ans", "zstd"])
def test_last_chunk_without_new_samples(tiny_model: Path, tiny_tables: Path, coder: str) -> None:
    """512 frames x hop 256 samples exactly: the last chunk is one frame with a zero share of
    the budget (this crashed the grid search with a math domain error)."""
    audio = Audio(samples=synth_music(131072 / 22050, 22050, seed=4)[:131072], rate=22050)
    model = load_model(path=tiny_model)
    for kbps in (1.0, 6.0):
        coded = encode_audio(audio, kbps=kbps, model=model, coder=coder)
        assert len(coded.chunks) == 2
        out, _, _ = decode_audio(coded.to_bytes(), iters=2)
        assert out.shape == (131072, 1)
        buf = io.BytesIO()  # base layer only, all bits to it: a fine step before the last chunk
        encode_blocks([audio.samples], buf, rate=22050, channels=1, length=131072, kbps=kbps,
                      model=model, coder=coder, enhance=False, base_kbps=kbps)
        assert len(container.unpack(buf.getvalue()).chunks) == 2
