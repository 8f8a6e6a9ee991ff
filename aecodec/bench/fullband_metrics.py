"""Full-band quality measures: what a listener hears above 11 kHz (numpy / scipy, no torch).

The measures of :mod:`aecodec.bench.metrics` resample to 22050 Hz first, so they cannot see
the band above 11 kHz. These compare at :data:`FB_RATE` (44100 Hz; a 48 kHz file is resampled
to it, which keeps everything up to 20 kHz). Each takes a mono reference ``ref`` and a degraded
copy ``deg`` (float ``[samples]``, already aligned) at ``rate`` >= 44100 Hz, and compares them
over the shorter length. Lower is better.

* :func:`mel_fb`: mean ``|log10(mel_ref + 1e-5) - log10(mel_deg + 1e-5)|`` of 128 mel bands
  (HTK mel scale, ``2595 log10(1 + f / 700)``, triangles with Slaney's area normalisation, as
  ``librosa.filters.mel(htk=True)``) from 0 to 20 kHz of the STFT *magnitude*, n_fft 2048,
  hop 512;
* :func:`mr_fb`: RMSE of ``log1p |STFT|`` averaged over n_fft 512 and 8192 (hop ``n / 4``);
* :func:`hf_db`: mean ``|dB error|`` of each frame's 11-20 kHz energy (n_fft 2048, hop 512),
  over the frames whose reference band energy is within 60 dB of the loudest; both energies
  are floored 60 dB below that loudest frame, so an empty band costs at most 60 dB a frame;
* :func:`visqol_fb`: ViSQOL v3 MOS-LQO of the full-band signals (resampled straight to
  48 kHz, ViSQOL's audio-mode rate, never through 22 kHz; needs ``visqol-python``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import get_window, resample_poly

FB_RATE = 44_100
"""Rate at which the full-band measures compare."""
FB_N_FFT, FB_HOP, FB_MELS, FB_FMAX = 2048, 512, 128, 20_000.0
"""STFT and mel settings of :func:`mel_fb` and :func:`hf_db`."""
FB_MR_N_FFTS = (512, 8192)
"""FFT sizes averaged by :func:`mr_fb` (hop ``n_fft // 4``)."""
FB_METRICS = ("mel_fb", "mr_fb", "hf_db")
"""The keys of :func:`fullband_metrics` (bench columns for sources at 44.1 kHz or more)."""
HF_BAND = (11_000.0, 20_000.0)
"""The band of :func:`hf_db`, Hz."""
HF_RANGE_DB = 60.0
"""Frames quieter than the loudest by more than this are left out of :func:`hf_db`."""


def _to_fb(x: np.ndarray, rate: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"full-band measures need mono [samples], got shape {x.shape}")
    if rate < FB_RATE:
        raise ValueError(f"full-band measures need rate >= {FB_RATE}, got {rate}")
    if rate == FB_RATE:
        return x
    r = Fraction(FB_RATE, rate)
    return np.asarray(resample_poly(x, r.numerator, r.denominator))


def _pair(ref: np.ndarray, deg: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    r, d = _to_fb(ref, rate), _to_fb(deg, rate)
    n = min(len(r), len(d))
    return r[:n], d[:n]


def _mag(x: np.ndarray, *, n_fft: int, hop: int) -> np.ndarray:
    """``[samples]`` -> ``|STFT|`` float64 ``[n_fft//2+1, samples//hop+1]`` (centred,
    reflect-padded frames, periodic Hann window, as :mod:`aecodec.bench.metrics`)."""
    pad = n_fft // 2
    x = np.pad(x, pad, mode="reflect" if len(x) > pad else "constant")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * get_window("hann", n_fft, fftbins=True), axis=-1)).T


def htk_mel_filterbank(*, rate: int = FB_RATE, n_fft: int = FB_N_FFT, n_mels: int = FB_MELS,
                       fmax: float = FB_FMAX) -> np.ndarray:
    """Triangular filters ``[n_mels, n_fft//2+1]`` evenly spaced on the HTK mel scale from
    0 Hz to ``fmax``, each scaled by ``2 / (upper - lower edge in Hz)``."""
    if not 0 < fmax <= rate / 2:
        raise ValueError(f"htk_mel_filterbank() called with fmax={fmax} at rate={rate}")
    top = 2595.0 * np.log10(1.0 + fmax / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(0.0, top, n_mels + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lower) / (centre - lower),
                                     (upper - freqs) / (upper - centre)))
    return tri * (2.0 / (upper - lower))


def mel_fb(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """Full-band mel distance (see the module docstring)."""
    r, d = _pair(ref, deg, rate)
    fb = htk_mel_filterbank()
    mel = [np.log10(fb @ _mag(s, n_fft=FB_N_FFT, hop=FB_HOP) + 1e-5) for s in (r, d)]
    return float(np.mean(np.abs(mel[0] - mel[1])))


def mr_fb(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """Full-band multi-resolution log1p-magnitude RMSE (see the module docstring)."""
    r, d = _pair(ref, deg, rate)
    errs = []
    for n in FB_MR_N_FFTS:
        a, b = (np.log1p(_mag(s, n_fft=n, hop=n // 4)) for s in (r, d))
        errs.append(float(np.sqrt(np.mean((a - b) ** 2))))
    return float(np.mean(errs))


def band_energy(x: np.ndarray, *, band: tuple[float, float] = HF_BAND) -> np.ndarray:
    """Energy ``[frames]`` of ``band`` (Hz) in each n_fft 2048 / hop 512 frame of ``x`` at
    44100 Hz (sum of ``|X|^2`` over the band's bins)."""
    freqs = np.linspace(0.0, FB_RATE / 2, FB_N_FFT // 2 + 1)
    keep = (freqs >= band[0]) & (freqs < band[1])
    return np.sum(_mag(x, n_fft=FB_N_FFT, hop=FB_HOP)[keep] ** 2, axis=0)


def hf_db(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """High-band energy error in dB (see the module docstring); 0 if the reference band is
    silent throughout."""
    r, d = _pair(ref, deg, rate)
    er, ed = band_energy(r), band_energy(d)
    top = float(er.max(initial=0.0))
    if top <= 0:
        return 0.0
    floor = top * 10 ** (-HF_RANGE_DB / 10)
    keep = er >= floor
    err = 10 * np.log10(np.maximum(er[keep], floor)) - 10 * np.log10(np.maximum(ed[keep], floor))
    return float(np.mean(np.abs(err)))


def fullband_metrics(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> dict[str, float]:
    """``{"mel_fb", "mr_fb", "hf_db"}`` of aligned mono signals at ``rate`` >= 44100 Hz."""
    return {"mel_fb": mel_fb(ref, deg, rate=rate), "mr_fb": mr_fb(ref, deg, rate=rate),
            "hf_db": hf_db(ref, deg, rate=rate)}


def wide_metrics(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> dict[str, float]:
    """:func:`fullband_metrics` for a source at 44.1 kHz or more, ``{}`` below."""
    return fullband_metrics(ref, deg, rate=rate) if rate >= FB_RATE else {}


def visqol_fb(ref: np.ndarray, deg: np.ndarray, *, rate: int) -> float:
    """ViSQOL v3 MOS-LQO (audio mode; 1-5, higher is better) of the full-band signals,
    resampled from ``rate`` straight to 48 kHz (``deg`` already aligned). Needs the optional
    ``visqol-python`` package (:class:`aecodec.errors.AecError` without it)."""
    from aecodec.bench.metrics import visqol_moslqo

    if rate < FB_RATE:
        raise ValueError(f"visqol_fb() needs rate >= {FB_RATE}, got {rate}")
    return visqol_moslqo(np.asarray(ref, np.float32), np.asarray(deg, np.float32), rate=rate)
