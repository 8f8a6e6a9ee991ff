"""Parametric stereo image: level difference and coherence per band and time slot.

The encoder measures, per band ``b`` and time slot of ``SLOT_FRAMES`` STFT frames, the
energies ``E_L``, ``E_R`` and the cross term ``X = sum L R*`` of the two channels' STFTs, and
sends the level difference ``ILD = 10 log10(E_L / E_R)`` and the coherence
``ICC = Re X / sqrt(E_L E_R)`` (on a coarser grid). The phase difference ``IPD = arg X`` is
supported by :func:`mix_coefficients` but not sent: measured, it bought 0.05 dB of level
error for about 0.3 kbps (docs/benchmarks.md).

The decoder rebuilds both channels from the decoded mid ``M`` and a decorrelated copy ``D`` of
it (:func:`decorrelate`) as ``L = M + S``, ``R = M - S`` with ``S = a M + b D``. So
``(L + R) / 2 = M`` exactly: the mono fold-down is the coded mid, with no comb filtering
whatever the parameters. ``a`` (complex) and ``b >= 0`` follow from the parameters
(:func:`mix_coefficients`): with ``E_R = 1``, ``E_L = c^2`` (``c = 10^(ILD / 20)``) and
``X = c rho``, the mid and side of the source have ``E_M = (c^2 + 1 + 2 c Re rho) / 4``,
``E_S = (c^2 + 1 - 2 c Re rho) / 4`` and ``<S M*> = (c^2 - 1 + 2 j c Im rho) / 4``, so
``a = <S M*> / E_M`` (the side predicted from the mid) and ``b^2 = E_S / E_M - |a|^2`` (what
the prediction misses, filled with ``D``, which has the mid's energy per band and frame and is
uncorrelated with it). The decoded pair then has the source's level difference, and the
source's coherence and phase difference to the extent ``D`` is uncorrelated with ``M``.

Parametric stereo of this kind is HE-AAC v2's (ISO/IEC 14496-3, Breebaart et al. 2005,
"Parametric coding of stereo audio", EURASIP JASP 2005:9); the prediction form of the upmix,
which keeps the mid exact, follows the complex prediction stereo of MPEG-D USAC.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aecodec.coding.zstd import decode_symbols, encode_symbols
from aecodec.errors import FormatError

BANDS = 20
"""Parameter bands: edges log-spaced from ``F_LO`` to half the rate; band 0 also covers below."""
F_LO = 100.0
SLOT_FRAMES = 8
"""STFT frames per ILD slot (93 ms at 22050 / 256); encoders use 4 from ``FINE_KBPS``."""
SLOTS = (4, 8)
"""The slot lengths a file may use."""
FINE_KBPS = 24.0
"""(10 held-out stereo clips: slot 4 costs 1.1 kbps against 0.6 for slot 8 and takes the mid's
ln-STFT error up by 0.006 at 16 kbps, 0.003 at 24; level error 2.31 -> 2.05 dB)"""
ILD_STEP_DB = 3.0
"""(5 clips: level error 2.06 dB at 2-dB steps, 2.10 at 3 dB, for 0.78 and 0.67 kbps)"""
ILD_MAX = 8
"""ILD symbols are clamped to +-8 (+-24 dB)."""
ICC_LEVELS = np.array([1.0, 0.937, 0.84118, 0.60092, 0.36764, 0.0, -0.589, -1.0])
"""Coherence quantizer (HE-AAC's ICC table); symbol ``i`` means ``ICC_LEVELS[i]``."""
ICC_BANDS, ICC_FRAMES = 2, 32
"""Each ICC is shared by 2 adjacent bands and 32 STFT frames (372 ms; measured: coherence
error 0.209 against 0.196 with one per band and 8 frames, for an eighth of the ICC bits)."""
GAIN_MAX = 4.0
"""Bound on ``|1 + a|``, ``|1 - a|`` and ``b`` (12 dB over the mid): an anti-phase source has
almost no mid to rebuild it from, and a stream must never blow the mid up."""
SIGN_HOLD = 8
"""Frames each decorrelator sign is held (93 ms; shorter holds are smeared by the frames'
overlap: measured coherence error 0.254 at 1 frame, 0.196 at 8)."""
SILENT = 1e-10
"""Energies are floored at this fraction of the chunk's loudest band-slot (100 dB under it)."""
_TINY = 1e-12


def band_of_bin(*, bins: int, rate: int, bands: int = BANDS) -> np.ndarray:
    """Band index of every STFT bin: ``[bins]`` int64 in ``0..bands-1``."""
    freqs = np.linspace(0, rate / 2, bins)
    edges = np.geomspace(F_LO, rate / 2, bands + 1)[1:-1]
    return np.searchsorted(edges, freqs, side="right").astype(np.int64)


def _slot_sums(values: np.ndarray, band: np.ndarray, *, bands: int, slot: int) -> np.ndarray:
    """Sum ``[bins, frames]`` over each band's bins and each slot -> ``[bands, slots]``."""
    bins, frames = values.shape
    slots = -(-frames // slot)
    v = np.pad(values, ((0, 0), (0, slots * slot - frames)))
    out = np.zeros((bands, slots), dtype=values.dtype)
    np.add.at(out, band, v.reshape(bins, slots, slot).sum(axis=2))
    return out


def band_energies(spec_l: np.ndarray, spec_r: np.ndarray, *, rate: int, bands: int = BANDS,
                  slot: int = SLOT_FRAMES) -> np.ndarray:
    """``[3, bands, ceil(frames / slot)]`` complex: ``E_L``, ``E_R`` and ``X = sum L R*`` of two
    complex STFTs ``[bins, frames]`` per band and slot."""
    band = band_of_bin(bins=spec_l.shape[0], rate=rate, bands=bands)
    return np.stack([_slot_sums(v, band, bands=bands, slot=slot) for v in
                     (np.abs(spec_l) ** 2 + 0j, np.abs(spec_r) ** 2 + 0j, spec_l * spec_r.conj())])


def groups(sums: np.ndarray, *, bands: int, slots: int) -> np.ndarray:
    """Pool :func:`band_energies` over groups of ``bands`` adjacent bands and ``slots``
    adjacent slots (the last group of each may be smaller) -> ``[3, ceil(B / bands),
    ceil(T / slots)]``."""
    _, b, t = sums.shape
    nb, nt = -(-b // bands), -(-t // slots)
    pad = np.pad(sums, ((0, 0), (0, nb * bands - b), (0, nt * slots - t)))
    return pad.reshape(3, nb, bands, nt, slots).sum(axis=(2, 4))


def parameters(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ild_db, rho)`` from :func:`band_energies` / :func:`groups` output: ``ILD`` in dB and
    the complex coherence ``rho = X / sqrt(E_L E_R)`` (``|rho| <= 1``; its real part is the
    ICC, its angle the IPD). Cells under twice the ``SILENT`` floor get ILD 0 and rho 1."""
    e_l, e_r, x = sums[0].real, sums[1].real, sums[2]
    floor = SILENT * max(float(e_l.max(initial=0.0)), float(e_r.max(initial=0.0))) + _TINY
    ild = 10 * np.log10((e_l + floor) / (e_r + floor))
    rho = x / np.sqrt((e_l + floor) * (e_r + floor))
    return ild, np.where((e_l + e_r) < 2 * floor, 1.0 + 0j, rho)


def analyze(spec_l: np.ndarray, spec_r: np.ndarray, *, rate: int, bands: int = BANDS,
            slot: int = SLOT_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parameters` per band and slot of two complex STFTs ``[bins, frames]``."""
    return parameters(band_energies(spec_l, spec_r, rate=rate, bands=bands, slot=slot))


def quantize_ild(ild: np.ndarray) -> np.ndarray:
    """ILD in dB -> int8 symbols in ``ILD_STEP_DB`` steps, clamped to +-``ILD_MAX``."""
    return np.clip(np.round(ild / ILD_STEP_DB), -ILD_MAX, ILD_MAX).astype(np.int8)


def quantize_icc(icc: np.ndarray) -> np.ndarray:
    """ICC (real coherence, -1..1) -> int8 index of the nearest of ``ICC_LEVELS``."""
    return np.abs(np.asarray(icc)[..., None] - ICC_LEVELS).argmin(axis=-1).astype(np.int8)


def dequantize(q_ild: np.ndarray, q_icc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symbols -> ``(ild_db, rho)`` (rho real, as complex); out-of-range symbols clamp."""
    ild = np.clip(q_ild.astype(np.float64), -ILD_MAX, ILD_MAX) * ILD_STEP_DB
    icc = ICC_LEVELS[np.clip(q_icc.astype(np.int64), 0, len(ICC_LEVELS) - 1)]
    return ild, icc + 0j


def mix_coefficients(ild: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)``: complex side prediction and real decorrelated-side gain, shaped as the
    inputs ``ild_db`` and complex ``rho`` (see the module docstring)."""
    c = 10 ** (ild / 20)
    e_m = np.maximum((c * c + 1 + 2 * c * rho.real) / 4, (c * c + 1) / 4 / GAIN_MAX ** 2)
    e_s = (c * c + 1 - 2 * c * rho.real) / 4
    a = (c * c - 1 + 2j * c * rho.imag) / 4 / e_m
    b = np.sqrt(np.maximum(e_s / e_m - np.abs(a) ** 2, 0.0))
    a = np.where(np.abs(a) > GAIN_MAX - 1, a / np.maximum(np.abs(a), _TINY) * (GAIN_MAX - 1), a)
    return a, np.minimum(b, GAIN_MAX)


def per_frame(values: np.ndarray, *, band: np.ndarray, start: int, frames: int,
              slot: int) -> np.ndarray:
    """Slot values ``[bands, slots]`` -> per bin and frame ``[bins, frames]`` for frames
    ``start .. start + frames - 1`` counted from the first slot's first frame, linearly
    interpolated between slot centres (held flat before the first and after the last)."""
    centres = np.arange(values.shape[1]) * slot + (slot - 1) / 2
    t = np.arange(start, start + frames)
    parts = [values.real] + ([values.imag] if np.iscomplexobj(values) else [])
    rows = [np.stack([np.interp(t, centres, r) for r in v]) for v in parts]
    out = rows[0] + 1j * rows[1] if len(rows) == 2 else rows[0]
    return out[band]


def icc_group(slot: int) -> tuple[int, int]:
    """Bands and slots that share one ICC at this slot length."""
    return ICC_BANDS, max(1, ICC_FRAMES // slot)


def expand_icc(q_icc: np.ndarray, *, bands: int, slots: int,
               group: tuple[int, int]) -> np.ndarray:
    """ICC symbols per group ``[ceil(bands / g0), ceil(slots / g1)]`` -> per band and slot."""
    return np.repeat(np.repeat(q_icc, group[0], axis=0), group[1], axis=1)[:bands, :slots]


def encode_chunk(spec_l: np.ndarray, spec_r: np.ndarray, *, rate: int, slot: int,
                 bands: int = BANDS, group: tuple[int, int] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Symbols of one chunk from the channels' complex STFTs ``[bins, frames]``: ILD
    ``[bands, ceil(frames / slot)]`` and ICC ``[ceil(bands / g0), ceil(slots / g1)]``, int8."""
    group = group or icc_group(slot)
    sums = band_energies(spec_l, spec_r, rate=rate, bands=bands, slot=slot)
    ild, _ = parameters(sums)
    _, rho = parameters(groups(sums, bands=group[0], slots=group[1]))
    return quantize_ild(ild), quantize_icc(rho.real)


def channel_spectra(mid: np.ndarray, q_ild: np.ndarray, q_icc: np.ndarray, *, rate: int,
                    slot: int, f0: int, start: int = 0,
                    group: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decoder: ``(L, R)`` complex ``[bins, frames]`` from the decoded mid STFT ``[bins,
    frames]`` of absolute frames ``f0 + start ..``, and the symbols of the chunk whose first
    frame is ``f0``. ``(L + R) / 2`` equals ``mid`` exactly."""
    group = group or icc_group(slot)
    bands, slots = q_ild.shape
    ild, rho = dequantize(q_ild, expand_icc(q_icc, bands=bands, slots=slots, group=group))
    a, b = mix_coefficients(ild, rho)
    band = band_of_bin(bins=mid.shape[0], rate=rate, bands=bands)
    a_f = per_frame(a.real, band=band, start=start, frames=mid.shape[1], slot=slot)
    b_f = per_frame(b, band=band, start=start, frames=mid.shape[1], slot=slot)
    return upmix(mid, decorrelate(mid, f0=f0 + start), a_f, b_f)


def _mix32(x: np.ndarray) -> np.ndarray:
    """The ``lowbias32`` integer hash (C. Wellons) of uint64 values below 2^32."""
    m = np.uint64(0xFFFFFFFF)
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(0x7FEB352D)) & m
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(0x846CA68B)) & m
    return x ^ (x >> np.uint64(16))


def flip_signs(*, bins: int, f0: int, frames: int, hold: int = SIGN_HOLD) -> np.ndarray:
    """The decorrelator's signs ``[bins, frames]`` (+-1.0) for absolute STFT frames
    ``f0 .. f0 + frames - 1``: bin ``k`` holds each sign for ``hold`` frames, its blocks
    starting at the frames ``t`` with ``(t + 5 k) % hold == 0``; block
    ``n = (t + 5 k) // hold`` has sign ``-1`` when the lowest bit of
    ``lowbias32(lowbias32(k) XOR n)`` is set (unsigned 32-bit arithmetic)."""
    k = np.arange(bins, dtype=np.uint64)[:, None]
    t = np.arange(f0, f0 + frames, dtype=np.uint64)[None, :]
    n = ((t + k * np.uint64(5)) // np.uint64(hold)) & np.uint64(0xFFFFFFFF)
    h = _mix32(_mix32(k) ^ n)
    return np.where(h & np.uint64(1), -1.0, 1.0)


def decorrelate(mid: np.ndarray, *, f0: int) -> np.ndarray:
    """The decorrelated mid ``D = +-j M`` of a complex STFT ``[bins, frames]`` whose first
    frame is absolute frame ``f0``: the same magnitude per bin and frame, a quarter turn
    either way (:func:`flip_signs`). For real ``a`` the cross term of ``M`` and ``D`` vanishes
    in every bin, so the decoded channels have the coded level difference bin by bin, and
    their coherence (summed over a band's bins and frames, where the signs average out) is
    the coded ICC. Fold-down is unaffected (``D`` cancels in ``L + R``)."""
    return 1j * flip_signs(bins=mid.shape[0], f0=f0, frames=mid.shape[1]) * mid


def upmix(mid: np.ndarray, decor: np.ndarray, a: np.ndarray,
          b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(L, R)`` complex STFTs ``[bins, frames]`` from the mid, its decorrelated copy and the
    per-bin coefficients (:func:`mix_coefficients` through :func:`per_frame`)."""
    side = a * mid + b * decor
    return mid + side, mid - side


def shapes(*, frames: int, slot: int, bands: int = BANDS,
           group: tuple[int, int] | None = None) -> tuple[tuple[int, int], tuple[int, int]]:
    """Symbol shapes ``(ILD, ICC)`` of a chunk of ``frames`` STFT frames."""
    group = group or icc_group(slot)
    slots = -(-frames // slot)
    return (bands, slots), (-(-bands // group[0]), -(-slots // group[1]))


def pack_image(q_ild: np.ndarray, q_icc: np.ndarray) -> bytes:
    """The stream bytes: one zstd frame of the int8 ILD symbols (band-major) followed by the
    ICC symbols (group-row-major)."""
    flat = np.concatenate([q_ild.astype(np.int8).ravel(), q_icc.astype(np.int8).ravel()])
    return encode_symbols(flat[None])


def unpack_image(data: bytes, *, frames: int, slot: int, name: str, bands: int = BANDS,
                 group: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stream bytes -> ``(q_ild, q_icc)``; :class:`~aecodec.errors.FormatError` if the frame
    does not decompress to exactly the chunk's symbol count or a symbol is out of range."""
    group = group or icc_group(slot)
    s_ild, s_icc = shapes(frames=frames, slot=slot, bands=bands, group=group)
    n_ild = s_ild[0] * s_ild[1]
    flat = decode_symbols(data, channels=1, frames=n_ild + s_icc[0] * s_icc[1], name=name)[0]
    q_ild, q_icc = flat[:n_ild].reshape(s_ild), flat[n_ild:].reshape(s_icc)
    if np.abs(q_ild).max(initial=0) > ILD_MAX or q_icc.min(initial=0) < 0 or \
            q_icc.max(initial=0) >= len(ICC_LEVELS):
        raise FormatError(f"{name}: stereo-image symbol out of range")
    return q_ild, q_icc


def meta_for(kbps: float) -> dict[str, Any]:
    """The metadata ``image`` object an encoder writes at ``kbps``."""
    return {"bands": BANDS, "slot": 4 if kbps >= FINE_KBPS else SLOT_FRAMES,
            "step_db": ILD_STEP_DB, "icc": [ICC_BANDS, ICC_FRAMES]}


def valid_meta(image: Any) -> bool:
    """Whether a file's ``image`` object is one this version reads."""
    if not isinstance(image, dict) or type(image.get("slot")) is not int:
        return False
    return image["slot"] in SLOTS and image == {**meta_for(0.0), "slot": image["slot"]}


def slot_of(meta: dict[str, Any]) -> int | None:
    """The stereo image's slot of a (validated) file's metadata; None without the image."""
    return int(meta["image"]["slot"]) if meta.get("stereo") == "image" else None
