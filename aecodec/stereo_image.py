"""Parametric stereo image: level difference, coherence and phase difference per band and slot.

The encoder measures, per band ``b`` and time slot of ``SLOT_FRAMES`` STFT frames, the
energies ``E_L``, ``E_R`` and the cross term ``X = sum L R*`` of the two channels' STFTs, and
sends the level difference ``ILD = 10 log10(E_L / E_R)``, the coherence
``ICC = Re X / sqrt(E_L E_R)`` and (optionally) the phase difference ``IPD = arg X``.

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

import numpy as np

BANDS = 20
"""Parameter bands: edges log-spaced from ``F_LO`` to half the rate; band 0 also covers below."""
F_LO = 100.0
SLOT_FRAMES = 8
"""STFT frames per parameter slot (93 ms at 22050 / 256)."""
ILD_STEP_DB = 2.0
ILD_MAX = 12
"""ILD symbols are clamped to +-12 (+-24 dB)."""
ICC_LEVELS = np.array([1.0, 0.937, 0.84118, 0.60092, 0.36764, 0.0, -0.589, -1.0])
"""Coherence quantizer (HE-AAC's ICC table); symbol ``i`` means ``ICC_LEVELS[i]``."""
IPD_LEVELS = 8
"""Phase difference quantizer: symbol ``i`` means ``2 pi i / 8``."""
GAIN_MAX = 4.0
"""Bound on ``|1 + a|``, ``|1 - a|`` and ``b`` (12 dB over the mid): an anti-phase source has
almost no mid to rebuild it from, and a stream must never blow the mid up."""
DECOR_DELAYS = (3, 5, 7, 11)
"""Frame delays of the decorrelator's taps (35-128 ms at 22050 / 256)."""
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


def analyze(spec_l: np.ndarray, spec_r: np.ndarray, *, rate: int, bands: int = BANDS,
            slot: int = SLOT_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Parameters of two complex STFTs ``[bins, frames]``: ``(ild_db, rho)``, each
    ``[bands, ceil(frames / slot)]`` (``rho = X / sqrt(E_L E_R)`` complex, ``|rho| <= 1``:
    its real part is the ICC, its angle the IPD). Silent band-slots get ILD 0, rho 1."""
    band = band_of_bin(bins=spec_l.shape[0], rate=rate, bands=bands)
    e_l = _slot_sums(np.abs(spec_l) ** 2, band, bands=bands, slot=slot)
    e_r = _slot_sums(np.abs(spec_r) ** 2, band, bands=bands, slot=slot)
    x = _slot_sums(spec_l * spec_r.conj(), band, bands=bands, slot=slot)
    floor = 1e-9 * max(float(e_l.max(initial=0.0)), float(e_r.max(initial=0.0))) + _TINY
    ild = 10 * np.log10((e_l + floor) / (e_r + floor))
    rho = x / np.sqrt((e_l + floor) * (e_r + floor))
    return ild, np.where((e_l + e_r) < 2 * floor, 1.0 + 0j, rho)


def quantize(ild: np.ndarray, icc: np.ndarray, ipd: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Float parameters -> int8 symbols (ILD in ``ILD_STEP_DB``, ICC indices into
    ``ICC_LEVELS``, IPD in eighths of a turn)."""
    q_ild = np.clip(np.round(ild / ILD_STEP_DB), -ILD_MAX, ILD_MAX).astype(np.int8)
    q_icc = np.abs(icc[..., None] - ICC_LEVELS).argmin(axis=-1).astype(np.int8)
    q_ipd = (None if ipd is None else
             (np.round(ipd / (2 * np.pi / IPD_LEVELS)) % IPD_LEVELS).astype(np.int8))
    return q_ild, q_icc, q_ipd


def dequantize(q_ild: np.ndarray, q_icc: np.ndarray, q_ipd: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symbols -> ``(ild_db, icc, ipd)`` float64 (out-of-range symbols are clamped)."""
    ild = np.clip(q_ild.astype(np.float64), -ILD_MAX, ILD_MAX) * ILD_STEP_DB
    icc = ICC_LEVELS[np.clip(q_icc.astype(np.int64), 0, len(ICC_LEVELS) - 1)]
    ipd = (np.zeros_like(ild) if q_ipd is None else
           (q_ipd.astype(np.int64) % IPD_LEVELS) * (2 * np.pi / IPD_LEVELS))
    return ild, icc, ipd


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


def per_frame(values: np.ndarray, *, band: np.ndarray, frames: int,
              slot: int = SLOT_FRAMES) -> np.ndarray:
    """Slot values ``[bands, slots]`` -> per bin and frame ``[bins, frames]``, linearly
    interpolated between slot centres (held flat beyond the first and last)."""
    centres = np.arange(values.shape[1]) * slot + (slot - 1) / 2
    t = np.arange(frames)
    if np.iscomplexobj(values):
        rows = np.stack([np.interp(t, centres, r.real) + 1j * np.interp(t, centres, r.imag)
                         for r in values])
    else:
        rows = np.stack([np.interp(t, centres, r) for r in values])
    return rows[band]


def decorrelate(spec: np.ndarray, *, delays: tuple[int, ...] = DECOR_DELAYS,
                seed: int = 0, band: np.ndarray | None = None) -> np.ndarray:
    """A copy of complex STFT ``[bins, frames]`` with the same magnitude per bin and frame and
    a phase that is uncorrelated with it: the phase of a sum of delayed copies, each turned
    by a fixed random phase per bin (a diffuse, reverberation-like filter). Frames before the
    first count as silent."""
    bins, frames = spec.shape
    rng = np.random.default_rng(seed)
    acc = np.zeros_like(spec)
    for d in delays:
        turn = np.exp(2j * np.pi * rng.random(bins))[:, None]
        if d < frames:
            acc[:, d:] += spec[:, :frames - d] * turn
    out = np.abs(spec) * acc / np.maximum(np.abs(acc), _TINY)
    return out if band is None else orthogonalize(out, spec, band=band)


def orthogonalize(decor: np.ndarray, mid: np.ndarray, *, band: np.ndarray) -> np.ndarray:
    """Remove from ``decor`` its projection on ``mid`` per band and frame and restore the
    mid's band energy (gain at most ``GAIN_MAX``), so that ``sum M D* = 0`` in every
    band-frame: the decoded level difference then follows the parameters frame by frame."""
    bands = int(band.max()) + 1
    def sums(v: np.ndarray) -> np.ndarray:
        out = np.zeros((bands, v.shape[1]), dtype=v.dtype)
        np.add.at(out, band, v)
        return out
    e_m = sums(np.abs(mid) ** 2)
    proj = sums(decor * mid.conj()) / np.maximum(e_m, _TINY)
    d = decor - proj[band] * mid
    gain = np.sqrt(e_m / np.maximum(sums(np.abs(d) ** 2), _TINY))
    return d * np.minimum(gain, GAIN_MAX)[band]


def upmix(mid: np.ndarray, decor: np.ndarray, a: np.ndarray,
          b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(L, R)`` complex STFTs ``[bins, frames]`` from the mid, its decorrelated copy and the
    per-bin coefficients (:func:`mix_coefficients` through :func:`per_frame`)."""
    side = a * mid + b * decor
    return mid + side, mid - side
