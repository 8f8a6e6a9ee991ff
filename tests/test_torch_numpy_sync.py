"""The torch reference nets and the numpy runtime behind the same pipeline, on the same clip.

What can be promised and what cannot: the latent symbols and quantizer steps are identical
(measured: 15 / 15 held-out clip x bitrate cases, scripts/torch_numpy_sync.py), so the base
layer's bytes are; the whole ``.aec`` bytes were identical in 13 / 15. They cannot be promised
always: the residual layer quantizes ``target - decoder(base)``, and the two decoders differ by
~1e-5 in ln-magnitude (float32 summation order), which flips a DCT coefficient's rounding now
and then; the peak-phase layer picks peaks on those magnitudes. Neither desynchronises a
decoder: a peak that encoder and decoder pick differently costs that peak's quality, never the
stream (a fixed count per frame, see :mod:`aecodec.coding.peakphase`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aecodec.codec.decode import decode_logmag
from aecodec.codec.encode import encode_audio
from aecodec.codec.parse import latent_of, parse_file
from aecodec.coding.peakphase import select_peaks
from aecodec.dsp.audio import Audio
from aecodec.format import container
from aecodec.model.reference import load_reference
from aecodec.model.registry import load_model

CLIP = Path(__file__).resolve().parent / "data" / "golden-source.wav"


@pytest.fixture(scope="module")
def models() -> tuple[tuple, tuple]:
    np_model = load_model()
    return np_model, load_reference(Path(np_model[1]["path"]))


@pytest.mark.parametrize("kbps", [3.0, 9.0])
def test_torch_and_numpy_encoders_agree(models: tuple[tuple, tuple], kbps: float) -> None:
    np_model, torch_model = models
    x, rate = sf.read(CLIP, dtype="float32")
    audio = Audio(x, rate)
    a = encode_audio(audio, kbps=kbps, model=np_model).to_bytes()
    b = encode_audio(audio, kbps=kbps, model=torch_model).to_bytes()
    pa, pb = container.unpack(a), container.unpack(b)
    assert pa.meta == pb.meta  # same model identity, layout and layers
    ca = parse_file(pa, name="numpy", net=np_model[0])[1]
    cb = parse_file(pb, name="torch", net=np_model[0])[1]
    assert [c.step for c in ca] == [c.step for c in cb]
    assert np.array_equal(latent_of(ca)[0], latent_of(cb)[0])
    if kbps == 3.0:  # no peak-phase layer below 6 kbps: measured identical
        assert a == b
    # decoding stays in sync: both decoders see the same magnitudes and pick the same peaks
    la = decode_logmag(b, name="np", net=np_model[0])[0]
    lb = decode_logmag(b, name="torch", net=torch_model[0])[0]
    assert np.abs(la - lb).max() <= 1e-4
    if "phase" in pb.meta:
        count = pb.meta["phase"]["peaks"]
        same = (select_peaks(la, count=count) == select_peaks(lb, count=count)).all(axis=0)
        assert same.mean() >= 0.99
