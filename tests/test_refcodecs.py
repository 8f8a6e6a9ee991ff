"""Tests of the reference codecs: the block-DCT codec always, Opus and MP3 where installed."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from aecodec.bench import metrics, refcodecs
from aecodec.bench.refcodecs import actual_kbps, available
from aecodec.coding import residual as dctcodec
from aecodec.errors import AecError, FormatError

RATE = 22050


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Griffin-Lim on 3-s clips is fastest single-threaded (and immune to a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def synthetic(seconds: float = 3.0, *, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Chords of harmonic tones under a decaying envelope, plus a little noise (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for i, chord in enumerate(((220.0, 277.2, 329.6), (196.0, 246.9, 293.7))):
        gate = (t // 0.75) % 2 == i
        for f0 in chord:
            for k in range(1, 10):
                x += gate * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k
    x *= 0.1 * np.exp(-2.0 * (t % 0.75))
    x += 0.003 * rng.standard_normal(t.shape)
    return x.astype(np.float32)


def logmag(x: np.ndarray) -> np.ndarray:
    return refcodecs._dct_logmag(x, rate=RATE)


def test_dct_stream_round_trip_is_monotone_in_scale() -> None:
    spec = logmag(synthetic())
    sizes, errors = [], []
    for scale in (0.02, 0.1, 0.5, 2.5):
        data = dctcodec.encode_dct(spec, scale=scale)
        back = dctcodec.decode_dct(data)
        assert back.shape == spec.shape and back.dtype == np.float32
        sizes.append(len(data))
        errors.append(float(np.sqrt(np.mean((back - spec) ** 2))))
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
    assert errors == sorted(errors) and errors[0] < 0.15


def test_dct_is_deterministic_and_exact_for_a_fine_step() -> None:
    spec = np.random.default_rng(3).normal(size=(40, 37)).astype(np.float32)
    data = dctcodec.encode_dct(spec, scale=1e-3)
    assert data == dctcodec.encode_dct(spec, scale=1e-3)
    assert len(data) > dctcodec.HEADER_BYTES == 16
    # the DCT is orthonormal: the RMS error is that of uniform quantisation, step / sqrt(12)
    steps = dctcodec.quant_steps(3, scale=1e-3)
    rms = float(np.sqrt(np.mean((dctcodec.decode_dct(data) - spec) ** 2)))
    assert rms < 1.5 * float(np.sqrt(np.mean(steps**2) / 12))
    with pytest.raises(ValueError, match="too fine"):
        dctcodec.encode_dct(spec * 1000, scale=1e-3)


def test_dct_steps_grow_with_frequency_and_order() -> None:
    steps = dctcodec.quant_steps(5, scale=0.5)
    assert steps.shape == (5, 1, 16, 16)
    assert steps[0, 0, 0, 0] == 0.5
    assert (np.diff(steps[:, 0, 0, 0]) > 0).all() and (np.diff(steps[0, 0, 0]) > 0).all()


@pytest.mark.parametrize("bad", [b"", b"DCTq", b"XXXX" + bytes(20)])
def test_dct_rejects_foreign_or_truncated_streams(bad: bytes) -> None:
    with pytest.raises(FormatError):
        dctcodec.decode_dct(bad)


def test_dct_rejects_a_corrupt_payload() -> None:
    data = dctcodec.encode_dct(np.zeros((20, 20), np.float32), scale=1.0)
    with pytest.raises(FormatError, match="payload"):
        dctcodec.decode_dct(data[:-3])
    with pytest.raises(ValueError, match="scale=0"):
        dctcodec.encode_dct(np.zeros((20, 20)), scale=0)


def test_run_dct_smaller_scale_costs_more_and_sounds_closer() -> None:
    x = synthetic()
    fine, coarse = (refcodecs.run_dct(x, rate=RATE, quality=q) for q in (0.1, 3.0))
    assert fine.name == "dct" and fine.audio.shape == x.shape and fine.audio.dtype == np.float32
    assert fine.nbytes > 4 * coarse.nbytes
    assert metrics.mel_l1(x, fine.audio, rate=RATE) < metrics.mel_l1(x, coarse.audio, rate=RATE)


@pytest.mark.parametrize("codec", ["dct", "dct8"])
@pytest.mark.parametrize("kbps", [2.0, 8.0])
def test_dct_run_at_bitrate_hits_the_target(kbps: float, codec: str) -> None:
    x = synthetic()
    res = refcodecs.run_at_bitrate(codec, x, rate=RATE, kbps=kbps)
    assert actual_kbps(res.nbytes, samples=len(x), rate=RATE) == pytest.approx(kbps, rel=0.1)
    assert res.audio.shape == x.shape and res.setting.startswith("scale=") and res.name == codec


def test_narrow_dct_stream_is_smaller_and_decodes_to_the_same_values() -> None:
    """int8 coefficients (version 2) where they fit: same decoded spectrogram, fewer bytes;
    a step too fine for int8 falls back to the int16 layout (version 1)."""
    spec = logmag(synthetic())
    wide = dctcodec.encode_dct(spec, scale=1.0)
    narrow = dctcodec.encode_dct(spec, scale=1.0, narrow=True)
    assert (wide[4], narrow[4]) == (dctcodec.VERSION, dctcodec.VERSION_NARROW)
    assert len(narrow) < len(wide)
    assert np.array_equal(dctcodec.decode_dct(wide), dctcodec.decode_dct(narrow))
    fine = dctcodec.encode_dct(spec, scale=0.03, narrow=True)  # integers up to 1110
    assert fine[4] == dctcodec.VERSION
    assert np.array_equal(dctcodec.decode_dct(fine),
                          dctcodec.decode_dct(dctcodec.encode_dct(spec, scale=0.03)))


def test_dct_stream_of_an_unknown_version_is_refused() -> None:
    data = bytearray(dctcodec.encode_dct(logmag(synthetic()), scale=1.0))
    data[4] = 3
    with pytest.raises(FormatError, match="version 3"):
        dctcodec.decode_dct(bytes(data))


def test_dct_at_another_rate_returns_that_rate() -> None:
    x = synthetic(rate=16000)
    assert refcodecs.run_dct(x, rate=16000, quality=1.0).audio.shape == x.shape


def test_run_at_bitrate_rejects_unknown_codecs() -> None:
    with pytest.raises(ValueError, match="codec='flac'"):
        refcodecs.run_at_bitrate("flac", synthetic(0.5), rate=RATE, kbps=8)


def test_available_reports_each_codec() -> None:
    got = available()
    assert set(got) == {"opus", "mp3", "dct", "dct8"} and got["dct"] is got["dct8"] is True


def test_missing_tool_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refcodecs.shutil, "which", lambda name: None)
    with pytest.raises(AecError, match="opusenc not found"):
        refcodecs.run_opus(synthetic(0.5), rate=RATE, kbps=12)


@pytest.mark.skipif(not available()["opus"], reason="opusenc/opusdec not installed")
def test_opus_round_trip_and_bitrate_search() -> None:
    x = synthetic()
    res = refcodecs.run_opus(x, rate=RATE, kbps=12)
    assert res.name == "opus" and res.setting == "--bitrate 12"
    assert abs(len(res.audio) - len(x)) <= 2  # opusdec drops the pre-skip
    assert metrics.snr_db(x, metrics.align(x, res.audio, rate=RATE)) > 0
    hit = refcodecs.run_at_bitrate("opus", x, rate=RATE, kbps=16)
    assert actual_kbps(hit.nbytes, samples=len(x), rate=RATE) == pytest.approx(16, rel=0.1)


def test_tool_failure_is_a_one_line_error() -> None:
    with pytest.raises(AecError, match=r"failed \(exit 1\): last line$"):
        refcodecs._run([sys.executable, "-c", "import sys; sys.exit('first\\nlast line')"])


@pytest.mark.skipif(not available()["mp3"], reason="lame not installed")
def test_mp3_round_trip_and_nearest_cbr() -> None:
    x = synthetic()
    res = refcodecs.run_mp3(x, rate=RATE, kbps=32)
    assert res.name == "mp3" and res.setting == "-b 32"
    assert actual_kbps(res.nbytes, samples=len(x), rate=RATE) == pytest.approx(32, rel=0.1)
    assert len(x) <= len(res.audio) <= len(x) + RATE // 4  # encoder delay and padding
    assert metrics.snr_db(x, metrics.align(x, res.audio, rate=RATE)) > 3
    near = refcodecs.run_at_bitrate("mp3", x, rate=RATE, kbps=23)
    assert near.setting == "-b 24"
    with pytest.raises(ValueError, match="kbps=33"):
        refcodecs.run_mp3(x, rate=RATE, kbps=33)
