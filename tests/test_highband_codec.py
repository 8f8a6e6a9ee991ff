"""The high-band layer (payload kind 4) through the codec: rate, streaming, seeking, stereo,
metadata, hostile files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aecodec.bench.fullband_metrics import band_energy, hf_db
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.coding.highband_layer import KIND
from aecodec.dsp.audio import Audio
from aecodec.errors import AecError, FormatError
from aecodec.format import container
from aecodec.model.registry import load_model

from .conftest import fuzz_model, payload_kinds, synth_music

RATE = 44_100


@pytest.fixture(scope="module")
def hb_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path, np.ndarray]:
    """A 13-second stereo 44.1 kHz file at 6 kbps (three chunks) and its source: notes and a
    steady hiss, so there is always something above 11 kHz."""
    path = fuzz_model(tmp_path_factory.mktemp("models"), model_id="hb-tiny", seed=3)
    x = synth_music(13.0, RATE, channels=2, seed=4)
    x += 0.02 * np.random.default_rng(5).standard_normal((len(x), 1)) * np.array([1.0, 0.8])
    data = encode_audio(Audio(x, RATE), kbps=6, model=load_model(path=path)).to_bytes()
    return data, path, x


def test_layer_is_in_every_chunk_and_inside_the_bitrate(hb_file: tuple[bytes, Path, np.ndarray]
                                                        ) -> None:
    data, _, x = hb_file
    aec = container.unpack(data)
    assert aec.meta["highband"] == {"bands": 6, "slot": 8}
    assert all(KIND in payload_kinds(c) for c in aec.chunks if c)
    kbps = len(data) * 8 / (len(x) / RATE) / 1000
    assert abs(kbps / 6 - 1) < 0.1, kbps


def test_decoded_high_band_follows_the_source(hb_file: tuple[bytes, Path, np.ndarray]) -> None:
    data, path, x = hb_file
    out, rate, _ = decode_audio(data, iters=2, model_path=path)
    assert rate == RATE and out.shape == x.shape
    ref = x.mean(axis=1)
    assert hf_db(ref, out.mean(axis=1), rate=RATE) < 6.0
    # both channels get their own high band, at the level difference the stereo layer gave
    # their 5.5-11 kHz band (the source's is 1.9 dB)
    e = [band_energy(out[:, c].astype(np.float64)).sum() for c in (0, 1)]
    s = [band_energy(out[:, c].astype(np.float64), band=(5_512.5, 11_000.0)).sum()
         for c in (0, 1)]
    assert 10 * np.log10(e[0] / e[1]) == pytest.approx(10 * np.log10(s[0] / s[1]), abs=0.5)
    assert 10 * np.log10(e[0] / e[1]) > 0.5
    # no seam: the band's energy around the chunk boundaries (5.94 s, 11.9 s) is as close to
    # the source's as elsewhere
    er, eo = (10 * np.log10(band_energy(s.astype(np.float64)) + 1e-9)
              for s in (ref, out.mean(axis=1)))
    err = np.abs(er - eo)
    for seam in (512, 1024):
        assert err[seam - 4:seam + 4].mean() < np.median(err) + 3.0


def test_decoding_at_22k_ignores_the_layer_and_48k_uses_it(hb_file: tuple[bytes, Path, np.ndarray]
                                                           ) -> None:
    data, path, x = hb_file
    low, rate, _ = decode_audio(data, iters=2, model_path=path, rate=22_050)
    assert rate == 22_050 and len(low) == round(len(x) / 2)
    high, rate, _ = decode_audio(data, iters=2, model_path=path, rate=48_000)
    spec = np.abs(np.fft.rfft(high[:, 0])) ** 2
    f = np.fft.rfftfreq(len(high), 1 / 48_000)
    assert spec[(f > 12_000) & (f < 19_000)].mean() > 1e-4 * spec[f < 11_000].mean()
    assert spec[f > 20_500].mean() < 1e-3 * spec[(f > 12_000) & (f < 19_000)].mean()


def test_seek_matches_full_decode(hb_file: tuple[bytes, Path, np.ndarray]) -> None:
    data, path, _ = hb_file
    full, _, _ = decode_audio(data, iters=2, model_path=path)
    part, _, _ = decode_audio(data, iters=2, model_path=path, start=7.0, duration=3.0)
    ref = full[7 * RATE:10 * RATE]
    assert part.shape == ref.shape
    er, ep = (band_energy(s[:, 0].astype(np.float64)) for s in (ref, part))
    assert np.abs(10 * np.log10((er + 1e-9) / (ep + 1e-9))).mean() < 0.5


def test_forged_layer_metadata_and_streams_are_refused(
        hb_file: tuple[bytes, Path, np.ndarray]) -> None:
    data, path, _ = hb_file
    aec = container.unpack(data)
    chunks = [c for c in aec.chunks if c]
    for bad in ({"bands": 7, "slot": 4}, {"bands": 6, "slot": 3}, [6, 4], {"bands": 6}):
        forged = container.pack({**aec.meta, "highband": bad}, chunks)
        with pytest.raises(FormatError, match="high-band"):
            decode_audio(forged, iters=0, model_path=path)
    without = {k: v for k, v in aec.meta.items() if k != "highband"}
    with pytest.raises(FormatError, match="high-band stream in a file without"):
        decode_audio(container.pack(without, chunks), iters=0, model_path=path)
    low_rate = {**aec.meta, "rate": 22_050, "length": aec.meta["length"] // 2}
    with pytest.raises(AecError):
        decode_audio(container.pack(low_rate, chunks), iters=0, model_path=path)


def test_sources_at_22k_and_low_bitrates_carry_no_layer(tmp_path: Path) -> None:
    path = fuzz_model(tmp_path, model_id="hb-tiny2", seed=5)
    model = load_model(path=path)
    for rate, kbps in ((22_050, 6), (RATE, 1.0)):
        enc = encode_audio(Audio(synth_music(2.0, rate), rate), kbps=kbps, model=model)
        assert "highband" not in enc.meta
        assert all(KIND not in payload_kinds(c) for c in enc.chunks)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_files_with_the_layer_raise_only_aec_errors(
        hb_file: tuple[bytes, Path, np.ndarray], data: st.DataObject) -> None:
    blob, path, _ = hb_file
    aec = container.unpack(blob)
    chunks = [bytearray(c) for c in aec.chunks if c]
    k = data.draw(st.integers(0, len(chunks) - 1))
    for _ in range(data.draw(st.integers(1, 4))):  # damage payloads with valid CRCs
        i = data.draw(st.integers(0, len(chunks[k]) - 1))
        chunks[k][i] = data.draw(st.integers(0, 255))
    try:
        decode_audio(container.pack(aec.meta, [bytes(c) for c in chunks]), iters=0,
                     model_path=path, duration=1.0, start=k * 5.9)
    except AecError:
        pass


@pytest.mark.parametrize("samples", [1, 2, 300, 5000])
def test_files_of_a_few_samples_with_the_layer(tmp_path: Path, samples: int) -> None:
    path = fuzz_model(tmp_path, model_id="hb-tiny3", seed=6)
    rng = np.random.default_rng(samples)
    audio = Audio((0.1 * rng.standard_normal((samples, 2))).astype(np.float32), RATE)
    coded = encode_audio(audio, kbps=12.0, model=load_model(path=path))
    assert coded.meta["highband"] == {"bands": 6, "slot": 2}
    for rate in (RATE, 48_000):
        out, got, _ = decode_audio(coded.to_bytes(), iters=2, model_path=path, rate=rate)
        assert out.shape == (round(samples * rate / RATE), 2) and got == rate
        assert np.isfinite(out).all()


@pytest.mark.parametrize("words", [[0], [7, 0], [1, 2, 3]])
def test_envelope_words_an_encoder_never_writes_are_a_format_error(words: list[int]) -> None:
    # constriction refuses a stream ending in a zero word in its constructor (found by the fuzz
    # test above): that is a damaged stream, named, not a ValueError
    from aecodec.coding.highband_code import decode_envelope

    data = np.asarray(words, "<u4").tobytes()
    with pytest.raises(FormatError, match="chunk 3: high-band stream"):
        decode_envelope(data, shape=(6, 4), name="chunk 3")
