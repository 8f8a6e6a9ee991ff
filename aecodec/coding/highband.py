"""High-band layer: the music above 11 kHz as a coarse envelope, rebuilt from the low band.

The model codes 0-11025 Hz (22050 Hz rate). For files above 22.05 kHz the encoder also sends,
per band (:data:`EDGES`, 11025 Hz to min(20 kHz, Nyquist)) and per time slot (``slot`` STFT
frames of the model, 46 ms for 4), the band's power spectral density in dB, quantized to
``step`` dB (symbol 0: the band is empty - the source lacked it). The decoder works at its output
rate on an STFT (:data:`N_FFT` 2048, :data:`HOP` 512, Hann analysis and synthesis): it removes
the resampler's image above 11025 Hz, undoes its roll-off below (:func:`crossover_gain`),
copies the decoded 5.5-11 kHz band up by one and two times its width (a frequency shift by
whole bins with the phase advance of the shift, so sinusoids stay sinusoids), and scales each
band so that its energy, smoothed over 3 frames, follows the envelope (linear in dB between
slot centres and band centres). Pure numpy; the entropy coding is :mod:`.highband_code`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from aecodec.dsp import fft
from aecodec.dsp.np_spectral import overlap_add
from aecodec.dsp.polyphase import lowpass

MODEL_RATE = 22_050
CROSSOVER = MODEL_RATE / 2
"""Lowest frequency of the layer, Hz: the model's Nyquist."""
TOP = 20_000.0
EDGES = (11_025.0, 12_500.0, 14_000.0, 15_500.0, 17_000.0, 18_500.0, 20_000.0)
"""Band edges in Hz (the top band ends at min(20 kHz, the rate's Nyquist))."""
N_FFT, HOP = 2048, 512
MODEL_HOP = 256
FLOOR_DB = -150.0
"""PSD (dB re 1 / Hz of a full-scale signal) of symbol 1; symbol 0 is silence."""
MAX_SYMBOL = 100
EMPTY_BELOW_SOURCE_DB = 70.0
"""A band more than this below the slot's 5.5-11 kHz PSD is coded as empty."""
MAX_BOOST_DB = 12.0
"""Most :func:`crossover_gain` undoes of the resamplers' roll-off."""


def band_count(rate: int) -> int:
    """Bands a signal at ``rate`` Hz has (0 at or below 22050 Hz)."""
    top = min(TOP, rate / 2)
    return sum(1 for lo in EDGES[:-1] if lo < top - 100.0) if rate > MODEL_RATE else 0


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """Periodic Hann window ``[N_FFT]`` (read-only: it is shared)."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    w.flags.writeable = False
    return w


def frame_psd(frames: np.ndarray, *, rate: int) -> np.ndarray:
    """Power spectral density of windowed frames ``[..., N_FFT]`` -> ``[..., N_FFT//2+1]``:
    ``|X|^2 / (rate * sum w^2)`` (independent of rate and FFT size)."""
    w = _window()
    spec = fft.rfft(np.multiply(frames, w, dtype=np.float32))  # float32: a level in dB
    power = spec.real ** 2 + spec.imag ** 2
    return power.astype(np.float64) / (rate * float(np.sum(w ** 2)))


def _bins(rate: int, lo: float, hi: float) -> np.ndarray:
    f = np.arange(N_FFT // 2 + 1) * rate / N_FFT
    return (f >= lo) & (f < hi)


def band_masks(rate: int, bands: int) -> np.ndarray:
    """``[bands, bins]`` bool: the STFT bins (at ``rate``) of each band."""
    top = min(TOP, rate / 2)
    edges = list(EDGES[:bands + 1])
    edges[bands] = min(edges[bands], top) if bands < len(EDGES) - 1 else top
    return np.stack([_bins(rate, edges[b], edges[b + 1]) for b in range(bands)])


def slot_of_time(t: np.ndarray, *, slot: int) -> np.ndarray:
    """Slot index of times ``t`` (s): slot ``s`` holds model frames ``[s slot, (s+1) slot)``,
    frame ``f`` centred at ``f * 256 / 22050`` s."""
    return np.floor(np.asarray(t) * MODEL_RATE / MODEL_HOP / slot + 0.5 / slot).astype(np.int64)


def slot_centre(s: np.ndarray | int, *, slot: int) -> np.ndarray:
    """Centre time (s) of slot(s) ``s``."""
    return (np.asarray(s, np.float64) * slot + (slot - 1) / 2) * MODEL_HOP / MODEL_RATE


def analyze(x: np.ndarray, *, rate: int, x0: int, s0: int, s1: int, slot: int,
            bands: int) -> np.ndarray:
    """Envelope in dB ``[bands, s1 - s0]`` of slots ``[s0, s1)`` of a mono signal.

    ``x [n]`` float at ``rate`` holds the signal's samples from absolute index ``x0`` (zeros
    are assumed outside). Frames every :data:`HOP` samples at ``rate`` are assigned to the
    slot their centre falls in; each band's value is ``10 log10`` of its mean PSD. Returns
    ``-inf`` where a band is empty, and where it is more than
    :data:`EMPTY_BELOW_SOURCE_DB` below the 5.5-11 kHz band of the same slot.
    """
    t_lo = slot_centre(s0, slot=slot) - (slot / 2) * MODEL_HOP / MODEL_RATE
    t_hi = slot_centre(s1 - 1, slot=slot) + (slot / 2) * MODEL_HOP / MODEL_RATE
    f0 = math.floor(t_lo * rate / HOP) - 1
    f1 = math.ceil(t_hi * rate / HOP) + 2
    a = f0 * HOP - N_FFT // 2 - x0  # first sample (relative to x) of frame f0
    span = np.zeros((f1 - f0 - 1) * HOP + N_FFT)
    lo, hi = max(0, a), min(len(x), a + len(span))
    if hi > lo:
        span[lo - a:hi - a] = x[lo:hi]
    frames = np.lib.stride_tricks.sliding_window_view(span, N_FFT)[::HOP]  # [f1 - f0, N_FFT]
    means = frame_psd(frames, rate=rate) @ _band_means(rate, bands)  # [frames, bands + 1]
    slots = slot_of_time(np.arange(f0, f1) * HOP / rate, slot=slot) - s0
    keep = (slots >= 0) & (slots < s1 - s0)
    count = np.maximum(np.bincount(slots[keep], minlength=s1 - s0), 1)
    mean = np.stack([np.bincount(slots[keep], weights=means[keep, b], minlength=s1 - s0)
                     for b in range(bands + 1)]) / count  # [bands + 1, slots]; last: source
    with np.errstate(divide="ignore"):
        out = np.where(mean[:bands] > 0, 10 * np.log10(np.maximum(mean[:bands], 1e-300)),
                       -np.inf)
        src_db = 10 * np.log10(np.maximum(mean[bands], 1e-300))
    out[out < src_db[None] - EMPTY_BELOW_SOURCE_DB] = -np.inf
    return out


@lru_cache(maxsize=16)
def _band_means(rate: int, bands: int) -> np.ndarray:
    """``[bins, bands + 1]``: a PSD frame times this is the mean PSD of each band and, last,
    of the 5.5-11 kHz source band."""
    masks = np.concatenate([band_masks(rate, bands),
                            _bins(rate, CROSSOVER / 2, CROSSOVER)[None]]).astype(np.float64)
    out = (masks / np.maximum(masks.sum(axis=1, keepdims=True), 1)).T
    out.flags.writeable = False
    return out


def quantize(env_db: np.ndarray, *, step: float) -> np.ndarray:
    """dB ``[bands, slots]`` -> symbols int64 in ``0..MAX_SYMBOL`` (0: empty)."""
    with np.errstate(invalid="ignore"):
        q = np.round((env_db - FLOOR_DB) / step) + 1
    q = np.where(np.isfinite(q), q, 0)
    return np.clip(q, 0, MAX_SYMBOL).astype(np.int64)


def dequantize(q: np.ndarray, *, step: float) -> np.ndarray:
    """Symbols -> dB (``-inf`` for 0)."""
    q = np.asarray(q)
    return np.where(q > 0, FLOOR_DB + (q - 1) * step, -np.inf)


def _resampler_response(rate: int, f: np.ndarray) -> np.ndarray:
    """``|H(f)|`` (unit DC gain) of the polyphase resampler's filter between 22050 Hz and
    ``rate`` (:func:`aecodec.dsp.polyphase.lowpass`, a Kaiser-windowed sinc cut off at
    11025 Hz; the same design in either direction, at ``22050 up`` Hz)."""
    g = math.gcd(rate, MODEL_RATE)
    up, down = rate // g, MODEL_RATE // g
    h = lowpass(up, down).astype(np.float64)
    n = np.arange(len(h)) - (len(h) - 1) / 2
    resp = np.exp(-2j * np.pi * np.outer(f / (MODEL_RATE * up), n)) @ h
    return np.abs(resp) / float(h.sum())


@lru_cache(maxsize=16)
@lru_cache(maxsize=16)
def crossover_gain(rate: int, source_rate: int) -> np.ndarray:
    """Per-bin gain ``[N_FFT//2+1]`` at output ``rate`` that undoes the roll-off below 11025
    Hz of the two resamplers the low band went through (``source_rate`` -> 22050 Hz in the
    encoder, 22050 Hz -> ``rate`` in the decoder), at most :data:`MAX_BOOST_DB`, and removes
    the image above 11025 Hz."""
    f = np.arange(N_FFT // 2 + 1) * rate / N_FFT
    band = f < CROSSOVER
    resp = np.ones(int(band.sum()))
    for r in {source_rate, rate} if source_rate != rate else (rate,):
        resp = resp * _resampler_response(r, f[band])
    if source_rate == rate:
        resp = resp ** 2
    g = np.zeros(len(f))
    g[band] = np.minimum(1.0 / np.maximum(resp, 1e-9), 10 ** (MAX_BOOST_DB / 20))
    g[f < 0.8 * CROSSOVER] = 1.0
    g.flags.writeable = False  # cached and shared
    return g


def patch_plan(rate: int) -> tuple[int, int, int]:
    """``(k_lo, width, k_top)``: bins ``[k_lo, k_top)`` are made; bin ``k`` copies bin
    ``k - n width`` (smallest ``n >= 1`` landing below ``k_lo``)."""
    df = rate / N_FFT
    k_lo = math.ceil(CROSSOVER / df - 1e-9)
    k_top = min(N_FFT // 2 + 1, math.ceil(min(TOP, rate / 2) / df))
    return k_lo, k_lo // 2, k_top


def transpose(low: np.ndarray, frames: np.ndarray, *, rate: int) -> np.ndarray:
    """The copy-up of a frame-major low-band STFT ``[..., T, bins]`` (complex; frames at
    absolute indices ``frames [T]``) -> the copied bins ``[k_lo, k_top)`` only, ``[..., T,
    k_top - k_lo]`` in ``low``'s dtype: each filled from ``[k_lo - width, k_lo)`` shifted by
    ``n width`` and advanced in phase by ``2 pi shift HOP t / N_FFT`` so it stays coherent."""
    k_lo, width, k_top = patch_plan(rate)
    out = np.zeros(low.shape[:-1] + (k_top - k_lo,), low.dtype)
    for n in (1, 2, 3):
        a, b = k_lo + (n - 1) * width, min(k_top, k_lo + n * width)
        if a >= b:
            break
        shift = n * width
        rot = np.exp(2j * np.pi * ((shift * HOP * frames) % N_FFT) / N_FFT).astype(low.dtype)
        np.multiply(low[..., a - shift:b - shift], rot[:, None], out=out[..., a - k_lo:b - k_lo])
    return out


def band_gains(copy_psd: np.ndarray, target_db: np.ndarray, *, rate: int,
               bands: int) -> np.ndarray:
    """Per-bin amplitude gains ``[bins, T]`` for the copy-up.

    ``copy_psd [bins, T + 2]``: PSD of the (mid) copy-up with one frame each side;
    ``target_db [bands, T]``: the envelope at each frame. Each band's gain is the ratio of its
    target to its copy energy (mean PSD over the band and 3 frames), linear in amplitude
    between band centres, 0 where the target is empty or outside the bands."""
    masks = band_masks(rate, bands)
    sm = copy_psd[:, :-2] + copy_psd[:, 1:-1] + copy_psd[:, 2:]
    e = np.stack([sm[m].mean(axis=0) / 3 for m in masks])  # [bands, T]
    with np.errstate(divide="ignore"):
        g_db = np.where(np.isfinite(target_db), target_db - 10 * np.log10(np.maximum(e, 1e-30)),
                        -np.inf)
    g_db = np.minimum(g_db, 60.0)
    lin = 10 ** (np.where(np.isfinite(g_db), g_db, -300) / 20)  # [bands, T]
    # interpolate amplitude (not dB) so an empty band fades into its neighbour
    return _interp_matrix(rate, bands) @ lin


@lru_cache(maxsize=16)
def _interp_matrix(rate: int, bands: int) -> np.ndarray:
    """``[bins, bands]``: linear interpolation between the bands' centre frequencies (held
    beyond the first and last), 0 outside the bands."""
    masks = band_masks(rate, bands)
    f = np.arange(N_FFT // 2 + 1) * rate / N_FFT
    centres = np.array([f[m].mean() for m in masks])
    inside = masks.any(axis=0)
    out = np.zeros((len(f), bands))
    for b in range(bands):
        out[inside, b] = np.interp(f[inside], centres, np.eye(bands)[b])
    return out


def envelope_at(env: dict[int, np.ndarray], frames: np.ndarray, *, rate: int, slot: int,
                bands: int) -> np.ndarray:
    """Target dB ``[bands, T]`` at output frames ``frames`` (absolute indices, centres at
    ``t HOP / rate``), linear in dB between slot centres; ``env`` maps slot -> dB ``[bands]``
    (``-inf``: empty; a missing slot is empty). Next to an empty slot the coded one holds for
    half a slot."""
    t = frames * HOP / rate
    pos = t * MODEL_RATE / MODEL_HOP / slot - (slot - 1) / (2 * slot)
    s_a = np.floor(pos).astype(np.int64)
    w = pos - s_a
    empty = np.full(bands, -np.inf)
    da = np.stack([env.get(int(s), empty)[:bands] for s in s_a], axis=1)
    db = np.stack([env.get(int(s) + 1, empty)[:bands] for s in s_a], axis=1)
    with np.errstate(invalid="ignore"):
        mixed = da * (1 - w) + db * w
    return np.where(np.isfinite(da) & np.isfinite(db), mixed, np.where(w < 0.5, da, db))


def render_frames(seg: np.ndarray, frames: np.ndarray, target_db: np.ndarray, *, rate: int,
                  bands: int, source_rate: int) -> np.ndarray:
    """Frames of the output: low band (image removed, roll-off undone) plus the scaled copy-up.

    ``seg [ch, T + 2, N_FFT]``: raw samples of frames ``frames[0] - 1 .. frames[-1] + 1`` of the
    decoded low band at ``rate`` (frame ``t`` covers samples ``[t HOP - N_FFT/2, t HOP +
    N_FFT/2)``); ``target_db [bands, T]``. Returns ``[ch, T, N_FFT]``: each frame windowed for
    overlap-add (the sum over frames of these is the output signal), float32. Works
    frame-major (``[ch, T, bins]``, as the FFTs want), in float32 (the output is float32), and
    on the copied bins only: the low band is 0 from ``k_lo`` up (:func:`crossover_gain`), so
    above it the output is the scaled copy alone (:func:`transpose`)."""
    w = _window()
    wss = float(np.sum(w ** 2))
    f32 = np.float32
    low = fft.rfft(np.multiply(seg, w, dtype=f32))  # [ch, T + 2, bins] complex64
    low *= crossover_gain(rate, source_rate).astype(f32)
    k_lo, _, k_top = patch_plan(rate)
    ext = np.concatenate([frames[:1] - 1, frames, frames[-1:] + 1])
    copy = transpose(low, ext, rate=rate)  # [ch, T + 2, k_top - k_lo]
    mid = copy.sum(axis=0) / f32(copy.shape[0])
    psd = np.zeros((low.shape[-1], low.shape[1]))
    psd[k_lo:k_top] = ((mid.real ** 2 + mid.imag ** 2) / (rate * wss)).T
    gains = band_gains(psd, target_db, rate=rate, bands=bands)[k_lo:k_top]  # [K, T]
    out = low[:, 1:-1]
    out[..., k_lo:k_top] += copy[:, 1:-1] * gains.T.astype(f32)
    y = fft.irfft(out, n=N_FFT)
    y *= (w / (wss / HOP)).astype(f32)
    return y


def synthesize(low: np.ndarray, *, rate: int, env: dict[int, np.ndarray], slot: int,
               bands: int, source_rate: int | None = None) -> np.ndarray:
    """Whole-signal reference of the decoder: ``low [n, ch]`` at ``rate`` -> ``[n, ch]`` with
    the high band (what the streaming decoder produces, in one call)."""
    n, ch = low.shape
    t_last = (n + N_FFT // 2) // HOP + 1
    frames = np.arange(-1, t_last)
    pad_l = N_FFT // 2 + 2 * HOP
    padded = np.zeros((ch, pad_l + n + N_FFT + 2 * HOP))
    padded[:, pad_l:pad_l + n] = low.T
    starts = (np.arange(-2, t_last + 1) * HOP - N_FFT // 2) + pad_l
    idx = starts[:, None] + np.arange(N_FFT)[None]
    seg = padded[:, idx]  # [ch, T + 2, N]
    bands = min(bands, band_count(rate))
    target = envelope_at(env, frames, rate=rate, slot=slot, bands=bands)
    y = render_frames(seg, frames, target, rate=rate, bands=bands,
                      source_rate=source_rate or rate)
    out = np.zeros_like(padded)
    ola = overlap_add(y, hop=HOP, dtype=np.float64)
    out[:, starts[1]:starts[1] + ola.shape[1]] += ola[:, :out.shape[1] - starts[1]]
    return out[:, pad_l:pad_l + n].T.astype(np.float32)
