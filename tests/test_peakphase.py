"""Peak-phase side information: peak picking, symbol round trip, Griffin-Lim holding, codec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.coding import peakphase
from aecodec.dsp.audio import Audio
from aecodec.dsp.griffinlim import griffin_lim
from aecodec.errors import FormatError
from aecodec.format import container
from aecodec.format.payload import PHASE
from aecodec.model.registry import load_model

from .conftest import payload_kinds, synth_music


def test_select_peaks_exact() -> None:
    logmag = np.full((20, 2), -5.0)
    logmag[[3, 7, 12], 0] = [1.0, 3.0, 2.0]  # three peaks, loudest first: 7, 12, 3
    logmag[5, 1] = 0.5
    picks = peakphase.select_peaks(logmag, count=4, kmax=10)
    assert picks[:, 0].tolist() == [7, 3, -1, -1]  # 12 is above kmax
    assert picks[:, 1].tolist() == [5, -1, -1, -1]
    assert peakphase.select_peaks(np.zeros((20, 3)), count=2, kmax=10).tolist() == [[-1] * 3] * 2


def test_symbols_round_trip_within_half_a_quantum() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(40)
    logmag = rng.normal(-6, 0.3, (120, 40))
    for k in (10, 25, 40):  # steady partials
        logmag[k, :] = 2.0
        logmag[k - 1, :] = logmag[k + 1, :] = 1.0
    phase = rng.uniform(-np.pi, np.pi, logmag.shape)
    phase[[10, 25, 40], :] = (2 * np.pi * np.outer([10.3, 24.8, 40.1], t) * 256 / 1024) % (2 * np.pi)
    data = peakphase.encode_phases(logmag, phase, count=10, hop=256, n_fft=1024)
    sym = peakphase.parse_symbols(data, frames=40, count=10)
    held, out = peakphase.phases_from_symbols(sym, logmag, hop=256, n_fft=1024)
    assert held[[10, 25, 40], :].all()
    err = np.angle(np.exp(1j * (out[held] - phase[held])))
    assert np.abs(err).max() <= peakphase.QUANT / 2 + 1e-6


def test_parse_symbols_refuses_wrong_sizes() -> None:
    import zstandard
    with pytest.raises(FormatError, match="holds 5 symbols"):
        peakphase.parse_symbols(zstandard.ZstdCompressor().compress(b"\x00" * 5), frames=2,
                                count=10)
    with pytest.raises(FormatError, match="does not decompress"):
        peakphase.parse_symbols(b"garbage", frames=2, count=10)


def test_griffin_lim_holds_the_given_bins() -> None:
    mag = torch.rand(1, 513, 20) + 0.1
    mask = torch.zeros(1, 513, 20, dtype=torch.bool)
    mask[0, 50, :] = True
    want = torch.full((1, 513, 20), 1.25)
    spec = griffin_lim(mag, n_fft=1024, hop=256, length=19 * 256, iters=4, hold=(mask, want),
                       return_spec=True)
    np.testing.assert_allclose(spec[0, 50].angle().numpy(), 1.25, atol=1e-5)


def test_codec_adds_the_layer_from_its_rate(tiny_model: Path) -> None:
    audio = Audio(samples=synth_music(4.0, 22050, seed=2), rate=22050)
    model = load_model(path=tiny_model)
    low = encode_audio(audio, kbps=3.0, model=model)
    high = encode_audio(audio, kbps=12.0, model=model)
    assert "phase" not in low.meta and high.meta["phase"] == peakphase.meta_for(10)
    assert encode_audio(audio, kbps=6.0, model=model).meta["phase"]["peaks"] == 5
    assert peakphase.peaks_for(5.9) == 0 and peakphase.peaks_for(64) == peakphase.PEAKS
    assert abs(high.nbytes * 8 / 4.0 / 1000 - 12.0) < 1.2

    assert all(PHASE in payload_kinds(c) for c in high.chunks)
    out, _, _ = decode_audio(high.to_bytes(), iters=4)
    assert out.shape == (audio.frames, 1) and np.isfinite(out).all()
    again, _, _ = decode_audio(high.to_bytes(), iters=4)
    np.testing.assert_array_equal(out, again)
    # the same chunks in a file whose metadata does not announce the layer: refused
    meta = {k: v for k, v in high.meta.items() if k != "phase"}
    with pytest.raises(FormatError, match="without the layer"):
        decode_audio(container.pack(meta, high.chunks), iters=0)
    forged = {**high.meta, "phase": {"peaks": 99, "bits": 3, "kmax": 93}}  # > MAX_PEAKS
    with pytest.raises(FormatError, match="phase layer"):
        decode_audio(container.pack(forged, high.chunks), iters=0)
