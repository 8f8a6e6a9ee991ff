"""The high-band layer's numpy parts: envelope coding, analysis, synthesis, streaming."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from aecodec.coding import highband as hb
from aecodec.coding import highband_layer as layer
from aecodec.coding.highband_code import decode_envelope, encode_envelope, envelope_bits
from aecodec.coding.highband_stream import HighbandAnalyzer, HighbandSynth
from aecodec.errors import FormatError

RATE = 44_100


def _noise(seconds: float, *, seed: int = 0, rate: int = RATE) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 0.1


def _lowband(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """What the decoder hands the layer: the signal through 22050 Hz and back."""
    up = {44_100: (1, 2), 48_000: (147, 320)}[rate]
    y = resample_poly(resample_poly(x, up[0], up[1]), up[1], up[0])
    return y[:len(x)]


def test_envelope_round_trip_and_bad_streams() -> None:
    rng = np.random.default_rng(3)
    q = np.clip(40 + np.cumsum(rng.integers(-2, 3, (6, 64)), axis=1), 0, 100)
    q[5, 10:20] = 0  # an empty band
    data = encode_envelope(q)
    assert np.array_equal(decode_envelope(data, shape=q.shape), q)
    assert len(data) * 8 <= envelope_bits(q) + 64  # the ANS coder is within 2 words of ideal
    with pytest.raises(FormatError, match="whole words"):
        decode_envelope(data[:-1], shape=q.shape)
    for junk in (b"", b"\xff" * 8, bytes(range(40))):
        try:
            out = decode_envelope(junk, shape=q.shape)
        except FormatError:
            continue
        assert out.shape == q.shape and out.min() >= 0 and out.max() <= 100


def test_band_count_follows_the_rate() -> None:
    assert [hb.band_count(r) for r in (22_050, 32_000, 44_100, 48_000, 96_000)] == [0, 4, 6, 6, 6]
    assert layer.params_for(6, 22_050)[0] == 0 and layer.params_for(1.0, RATE)[0] == 0
    assert layer.params_for(6, RATE) == (6, 8, 3.0)
    assert layer.params_for(12, 48_000) == (6, 2, 2.0)
    assert layer.valid_meta({"bands": 6, "slot": 4}, rate=RATE)
    assert not layer.valid_meta({"bands": 6, "slot": 4}, rate=32_000)
    assert not layer.valid_meta({"bands": 6, "slot": 5}, rate=RATE)
    assert not layer.valid_meta({"bands": True, "slot": 4}, rate=RATE)


def test_analysis_reads_the_band_level_and_leaves_absent_air_empty() -> None:
    x = _noise(2.0)
    env = hb.analyze(x, rate=RATE, x0=0, s0=0, s1=40, slot=4, bands=6)
    # white noise of variance 0.01: (two-sided) PSD 0.01 / rate per Hz in every band
    expect = 10 * np.log10(0.01 / RATE)
    assert np.abs(env[:, 2:-2] - expect).max() < 2.0 and abs(np.mean(env[:, 2:-2]) - expect) < 0.3
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / RATE) > 14_000] = 0  # a source with no air above 14 kHz
    dull = hb.analyze(np.fft.irfft(spec, len(x)), rate=RATE, x0=0, s0=0, s1=40, slot=4, bands=6)
    assert np.all(np.isfinite(dull[:2, 2:-2])) and np.all(np.isinf(dull[3:, 2:-2]))
    assert np.array_equal(hb.quantize(dull, step=3.0)[3:, 2:-2], np.zeros((3, 36)))


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_crossover_has_no_gap_or_bump(rate: int) -> None:
    x = _noise(3.0, rate=rate)
    n = int(hb.slot_of_time(np.array([3.0]), slot=4)[0]) + 1
    env = hb.analyze(x, rate=rate, x0=0, s0=0, s1=n, slot=4, bands=6)
    q = hb.quantize(env, step=3.0)
    env_q = {s: hb.dequantize(q[:, s], step=3.0) for s in range(n)}
    y = hb.synthesize(_lowband(x, rate)[:, None], rate=rate, env=env_q, slot=4, bands=6)[:, 0]
    f = np.fft.rfftfreq(len(y), 1 / rate)
    spec_in, spec_out = (np.abs(np.fft.rfft(s)) ** 2 for s in (x, y))

    def level(s: np.ndarray, lo: float, hi: float) -> float:
        return float(10 * np.log10(s[(f >= lo) & (f < hi)].mean()))

    for lo in range(8_000, 19_500, 500):  # flat through 11 kHz within 1.5 dB
        assert abs(level(spec_out, lo, lo + 500) - level(spec_in, lo, lo + 500)) < 1.5, lo
    assert level(spec_out, 20_500, rate / 2) < level(spec_in, 20_500, rate / 2) - 30


def test_streaming_equals_whole_signal_for_any_blocks() -> None:
    x = _noise(3.0, seed=1)
    low = np.stack([_lowband(x), 0.5 * _lowband(x)], axis=1)
    frames = int(3.0 * 22_050) // 256 + 1
    chunks = [(a, min(a + 128, frames)) for a in range(0, frames, 128)]
    an = HighbandAnalyzer(rate=RATE, bands=6, slot=4, chunks=chunks)
    rng = np.random.default_rng(0)
    got, i = [], 0
    while i < len(x):
        m = int(rng.integers(1, 9000))
        got += an.feed(x[i:i + m])
        i += m
    got += an.finish()
    assert [k for k, _ in got] == list(range(len(chunks)))
    env = np.concatenate([e for _, e in got], axis=1)
    whole = hb.analyze(x, rate=RATE, x0=0, s0=0, s1=env.shape[1], slot=4, bands=6)
    assert np.array_equal(np.isinf(env), np.isinf(whole))
    assert np.allclose(env[np.isfinite(env)], whole[np.isfinite(whole)])
    envd = {s: env[:, s] for s in range(env.shape[1])}
    ref = hb.synthesize(low, rate=RATE, env=envd, slot=4, bands=6)
    for start in (0, 23_456):
        synth = HighbandSynth(rate=RATE, bands=6, slot=4, channels=2, start=start)
        synth.add(0, env)
        out, i = [], start
        while i < len(low):
            m = int(rng.integers(1, 12000))
            out.append(synth.feed(low[i:i + m]))
            i += m
        out.append(synth.flush())
        y = np.concatenate(out)
        assert y.shape == (len(low) - start, 2)
        skip = 4096 if start else 0  # after a seek the first frames lack their past
        assert np.abs(y[skip:] - ref[start + skip:]).max() < 1e-5
    # stereo: each channel keeps its own level in the high band
    fb = [np.sum(np.abs(np.fft.rfft(ref[:, c]))[len(ref) // 4:] ** 2) for c in (0, 1)]
    assert 10 * np.log10(fb[0] / fb[1]) == pytest.approx(6.0, abs=0.5)


def test_stream_of_the_layer_round_trips() -> None:
    env = hb.analyze(_noise(1.0), rate=RATE, x0=0, s0=0, s1=16, slot=4, bands=6)
    step, raw = layer.encode_stream(env, step=3.0)
    back = layer.decode_stream(raw, step, bands=6, slots=16, name="x")
    assert np.abs(back - env).max() <= 1.5 + 1e-9
    with pytest.raises(FormatError, match="step"):
        layer.decode_stream(raw, 2.5, bands=6, slots=16, name="x")
