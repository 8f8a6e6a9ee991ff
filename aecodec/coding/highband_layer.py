"""The high-band layer as the container carries it: metadata, per-chunk stream, policy.

A file whose source rate is above 22050 Hz may carry, in its metadata, ``"highband": {"bands":
B, "slot": S}`` and, in each chunk, a stream of kind 4 (:data:`KIND`): the ANS-coded envelope
symbols ``[B, ceil(frames / S)]`` of the chunk's model frames (:mod:`.highband_code`), with the
stream's ``step`` = the envelope's dB step (one of :data:`STEPS`). See docs/format.md.
"""

from __future__ import annotations

import math

import numpy as np

from aecodec.errors import FormatError

from . import highband as hb
from .highband_code import decode_envelope, encode_envelope

KIND = 4
"""Payload stream kind of the layer."""
SLOTS = (2, 4, 8)
"""Model STFT frames per envelope slot (23, 46, 93 ms) a file may use."""
STEPS = (1.5, 2.0, 3.0, 4.0)
"""dB steps a stream may use."""
MIN_KBPS = 1.5
"""Below this target bitrate encoders send no high band (it would eat the low band's bits)."""


def params_for(kbps: float, rate: int) -> tuple[int, int, float]:
    """``(bands, slot, step_db)`` an encoder uses for a source at ``rate`` coded at ``kbps``
    (``bands == 0``: no layer). Measured on 5 held-out 44.1 kHz clips at 6 / 12 kbps
    (scripts/highband_proto.py): slot 8 / 3 dB costs 0.17 kbps for a high-band energy error of
    3.5 dB, slot 4 / 3 dB 0.35 kbps for 2.0 dB, slot 2 / 2 dB 0.76 kbps for 1.0 dB. The bits
    come out of the residual layer, which costs the 22 kHz measures (ln-STFT +0.011 at 6 kbps
    with slot 4, scripts/highband_narrow_check.py), so below 9 kbps the cheapest slot is used
    and the fine one only from 9 kbps, where Opus codes the band well (1.0 dB at 24 kbps)."""
    bands = hb.band_count(rate)
    if bands == 0 or kbps < MIN_KBPS:
        return 0, 0, 0.0
    if kbps < 9.0:
        return bands, 8, 3.0
    return bands, 2, 2.0


def meta_for(bands: int, slot: int) -> dict[str, int]:
    """The ``"highband"`` metadata object."""
    return {"bands": bands, "slot": slot}


def valid_meta(value: object, *, rate: int) -> bool:
    """Whether a file's ``"highband"`` metadata is one this build decodes."""
    return (isinstance(value, dict) and set(value) == {"bands", "slot"}
            and all(isinstance(value[k], int) and not isinstance(value[k], bool)
                    for k in value)
            and value["slot"] in SLOTS and 1 <= value["bands"] <= hb.band_count(rate))


def chunk_slots(frames: int, slot: int) -> int:
    """Envelope slots of a chunk of ``frames`` model frames."""
    return -(-frames // slot)


def encode_stream(env_db: np.ndarray, *, step: float) -> tuple[float, bytes]:
    """Envelope dB ``[bands, slots]`` -> ``(step, ANS words)``."""
    if step not in STEPS:
        raise ValueError(f"encode_stream() called with step={step!r}, not one of {STEPS}")
    return step, encode_envelope(hb.quantize(env_db, step=step))


def decode_stream(raw: bytes, step: float, *, bands: int, slots: int,
                  name: str) -> np.ndarray:
    """A kind-4 stream -> envelope dB ``[bands, slots]`` (``-inf``: empty band)."""
    if not any(math.isclose(step, s) for s in STEPS):
        raise FormatError(f"{name}: high-band step {step!r} dB is not one of {STEPS}")
    q = decode_envelope(raw, shape=(bands, slots), name=name)
    return hb.dequantize(q, step=min(STEPS, key=lambda s: abs(s - step)))
