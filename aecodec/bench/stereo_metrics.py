"""Stereo-image measures of a decoded two-channel signal against its reference (numpy only).

All three compare complex STFTs (``N_FFT`` 2048, hop ``HOP`` 512, periodic Hann, centred
frames) of both channels at the signals' common rate, pooled into ``BANDS`` log-spaced bands
from ``F_LO`` to ``F_HI`` (bins below the first edge or above the last are left out). Lower
is better for all three; identical inputs give 0.

- :func:`level_error_db`: mean ``|ILD_ref - ILD_dec|`` (``ILD = 10 log10(E_L / E_R)`` of a band
  in one frame) over the band-frames whose reference energy ``E_L + E_R`` lies within
  ``LEVEL_RANGE_DB`` of that band's loudest frame.
- :func:`coherence_error`: mean ``|ICC_ref - ICC_dec|`` over bands and ``WINDOW_S`` windows,
  ``ICC = |sum L R*| / sqrt(sum |L|^2 sum |R|^2)`` over the band's bins and the window's
  frames; only windows whose reference energy lies within ``LEVEL_RANGE_DB`` of the band's
  loudest window count (a silent band has no image to keep). A silent decoded window has ICC 0.
- :func:`width_error_db`: mean over bands of ``|W_ref - W_dec|``, ``W = 10 log10(E_S / E_M)``
  the side-over-mid energy of the band over the whole clip (``S = (L - R) / 2``,
  ``M = (L + R) / 2``), clamped to +-``WIDTH_CLAMP_DB`` (so a mono decode scores about
  ``WIDTH_CLAMP_DB`` minus the reference's width); only bands within ``WIDTH_RANGE_DB`` of the
  loudest band count.

Signals are ``[samples, 2]`` float arrays; the two are compared over the shorter length. They
must be time-aligned (codec delay removed) - :func:`aecodec.bench.metrics.find_delay` does that.
"""

from __future__ import annotations

import numpy as np

N_FFT, HOP = 2048, 512
BANDS, F_LO, F_HI = 20, 100.0, 16_000.0
WINDOW_S = 0.5
LEVEL_RANGE_DB = 40.0
WIDTH_CLAMP_DB = 60.0
WIDTH_RANGE_DB = 60.0
_TINY = 1e-20
STEREO_METRICS = ("level_db", "coherence", "width_db")
"""The keys of :func:`stereo_errors` (``bench`` columns for two-channel files; its reference
codecs code the mono mix-down, so only aecodec rows have them)."""


def _stft(x: np.ndarray) -> np.ndarray:
    """``[samples]`` -> complex ``[N_FFT // 2 + 1, frames]`` (centred, reflect padded)."""
    x = np.asarray(x, dtype=np.float64)
    pad = N_FFT // 2
    x = np.pad(x, pad, mode="reflect" if x.shape[0] > pad else "constant")
    if x.shape[0] < N_FFT:
        x = np.pad(x, (0, N_FFT - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    return np.fft.rfft(frames * win, axis=-1).T


def band_index(*, rate: int, bins: int = N_FFT // 2 + 1) -> np.ndarray:
    """Band of every STFT bin, ``[bins]`` int64 in ``0..BANDS-1``, or -1 outside F_LO..F_HI."""
    freqs = np.arange(bins) * rate / N_FFT
    edges = np.geomspace(F_LO, min(F_HI, rate / 2), BANDS + 1)
    band = np.searchsorted(edges, freqs, side="right") - 1
    band[(freqs < edges[0]) | (freqs >= edges[-1])] = -1
    return band.astype(np.int64)


def _band_sum(values: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Sum ``[bins, frames]`` over each band's bins -> ``[BANDS, frames]``."""
    out = np.zeros((BANDS, values.shape[1]), dtype=values.dtype)
    keep = band >= 0
    np.add.at(out, band[keep], values[keep])
    return out


def band_stats(x: np.ndarray, *, rate: int) -> dict[str, np.ndarray]:
    """Per band and frame of ``x`` ``[samples, 2]``: ``{"ll", "rr": energies, "lr": sum L R*}``,
    each ``[BANDS, frames]`` (``lr`` complex)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"band_stats() called with shape {x.shape}, expected [samples, 2]")
    spec_l, spec_r = _stft(x[:, 0]), _stft(x[:, 1])
    band = band_index(rate=rate, bins=spec_l.shape[0])
    return {"ll": _band_sum(np.abs(spec_l) ** 2, band), "rr": _band_sum(np.abs(spec_r) ** 2, band),
            "lr": _band_sum(spec_l * spec_r.conj(), band)}


def _pair(ref: np.ndarray, deg: np.ndarray, rate: int) -> tuple[dict[str, np.ndarray], ...]:
    n = min(len(ref), len(deg))
    return band_stats(np.asarray(ref)[:n], rate=rate), band_stats(np.asarray(deg)[:n], rate=rate)


def _ild(s: dict[str, np.ndarray], floor: np.ndarray) -> np.ndarray:
    return 10 * np.log10((s["ll"] + floor) / (s["rr"] + floor))


def level_error_db(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """Mean absolute ILD error in dB (see the module docstring)."""
    a, b = _pair(ref, deg, rate)
    return _level(a, b)


def _level(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    energy = a["ll"] + a["rr"]
    loudest = energy.max(axis=1, keepdims=True)
    mask = (energy > loudest * 10 ** (-LEVEL_RANGE_DB / 10)) & (loudest > _TINY)
    if not mask.any():
        return 0.0
    floor = loudest * 1e-6 + _TINY  # a channel 60 dB under the band's loudest counts as silent
    return float(np.abs(_ild(a, floor) - _ild(b, floor))[mask].mean())


def _windows(v: np.ndarray, frames: int) -> np.ndarray:
    """Sum ``[BANDS, T]`` over consecutive windows of ``frames`` -> ``[BANDS, ceil(T / frames)]``."""
    t = v.shape[1]
    n = -(-t // frames)
    v = np.pad(v, ((0, 0), (0, n * frames - t)))
    return v.reshape(v.shape[0], n, frames).sum(axis=2)


def _icc(s: dict[str, np.ndarray], frames: int) -> tuple[np.ndarray, np.ndarray]:
    ll, rr, lr = (_windows(s[k], frames) for k in ("ll", "rr", "lr"))
    return np.abs(lr) / np.sqrt(ll * rr + _TINY), ll + rr


def coherence_error(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """Mean absolute inter-channel coherence error (see the module docstring)."""
    a, b = _pair(ref, deg, rate)
    return _coherence(a, b, rate)


def _coherence(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rate: int) -> float:
    frames = max(1, round(WINDOW_S * rate / HOP))
    icc_a, energy = _icc(a, frames)
    icc_b, _ = _icc(b, frames)
    loudest = energy.max(axis=1, keepdims=True)
    mask = (energy > loudest * 10 ** (-LEVEL_RANGE_DB / 10)) & (loudest > _TINY)
    if not mask.any():
        return 0.0
    return float(np.abs(icc_a - icc_b)[mask].mean())


def _width(s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ll, rr, lr = s["ll"].sum(axis=1), s["rr"].sum(axis=1), s["lr"].real.sum(axis=1)
    side, mid = (ll + rr - 2 * lr) / 4, (ll + rr + 2 * lr) / 4
    ratio = 10 * np.log10((np.maximum(side, 0) + _TINY) / (np.maximum(mid, 0) + _TINY))
    return np.clip(ratio, -WIDTH_CLAMP_DB, WIDTH_CLAMP_DB), ll + rr


def width_error_db(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """Mean absolute side-over-mid energy error in dB (see the module docstring)."""
    a, b = _pair(ref, deg, rate)
    return _width_err(a, b)


def _width_err(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    w_a, energy = _width(a)
    w_b, _ = _width(b)
    mask = (energy > energy.max() * 10 ** (-WIDTH_RANGE_DB / 10)) & (energy > _TINY)
    if not mask.any():
        return 0.0
    return float(np.abs(w_a - w_b)[mask].mean())


def stereo_errors(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> dict[str, float]:
    """All three at once (one STFT per signal): ``{"level_db", "coherence", "width_db"}``."""
    a, b = _pair(ref, deg, rate)
    return {"level_db": _level(a, b), "coherence": _coherence(a, b, rate),
            "width_db": _width_err(a, b)}


def stereo_measures(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> dict[str, float]:
    """:func:`stereo_errors` when both signals are ``[samples, 2]``, else ``{}``."""
    two = all(np.ndim(x) == 2 and np.shape(x)[1] == 2 for x in (ref, deg))
    return stereo_errors(ref, deg, rate=rate) if two else {}
