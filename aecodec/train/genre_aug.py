"""Audio augmentations that blur a producer's fingerprint, for training the genre head.

Each track of a genre set comes from one artist's studio chain: the same EQ balance, loudness,
compression and sample rate on every track, which a classifier can learn instead of the genre.
:func:`augment` draws a random chain of the usual mastering differences and applies it to
mono audio ``[samples]`` at ``rate`` Hz:

* EQ tilt: ``+-tilt_db`` per octave around 1 kHz (a straight line in dB over log frequency,
  applied in the frequency domain, flat below 50 Hz and above 10 kHz);
* gain: ``+-gain_db``;
* compression: a feed-forward RMS compressor (10-ms attack, 150-ms release, threshold 6-24 dB
  under the peak level, ratio 2-8, makeup to the input RMS), applied with probability 1/2;
* resampling: down to 8, 11.025 or 16 kHz and back (polyphase), with probability 1/3: the
  bandwidth of an older or cheaper production.

The codec's own quantization (1.5-24 kbps: quantizer steps of rate control) is applied to the
latent at training time instead, where it is exact (``round(z / step) * step``).
All randomness comes from the ``rng`` passed in; the output is float32, clipped to +-1.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly

TILT_DB = 3.0
GAIN_DB = 12.0
LOW_RATES = (8000, 11025, 16000)


def tilt(x: np.ndarray, *, rate: int, db_per_octave: float) -> np.ndarray:
    """``x [samples]`` with a spectral tilt of ``db_per_octave`` around 1 kHz."""
    spec = np.fft.rfft(x.astype(np.float64))
    f = np.clip(np.fft.rfftfreq(len(x), 1 / rate), 50.0, 10000.0)
    spec *= 10 ** (db_per_octave * np.log2(f / 1000.0) / 20)
    return np.fft.irfft(spec, n=len(x))


def compress(x: np.ndarray, *, rate: int, threshold_db: float, ratio: float) -> np.ndarray:
    """Feed-forward RMS compressor; ``threshold_db`` below the peak 50-ms RMS level."""
    win = max(1, int(0.01 * rate))
    power = np.convolve(x.astype(np.float64) ** 2, np.ones(win) / win, mode="same")
    level = 10 * np.log10(power + 1e-12)
    env = np.empty_like(level)
    att, rel = np.exp(-1 / (0.01 * rate)), np.exp(-1 / (0.15 * rate))
    # a one-pole smoother with separate attack and release, on a 1-ms grid for speed
    hop = max(1, rate // 1000)
    coarse = level[::hop]
    out = np.empty_like(coarse)
    a, r = att**hop, rel**hop
    state = coarse[0]
    for i, v in enumerate(coarse):
        state = a * state + (1 - a) * v if v > state else r * state + (1 - r) * v
        out[i] = state
    env[:] = np.repeat(out, hop)[: len(level)]
    thresh = env.max() - threshold_db
    gain_db = np.where(env > thresh, (thresh - env) * (1 - 1 / ratio), 0.0)
    y = x * 10 ** (gain_db / 20)
    rms_in, rms_out = np.sqrt(np.mean(x**2)) + 1e-12, np.sqrt(np.mean(y**2)) + 1e-12
    return y * (rms_in / rms_out)


def band_limit(x: np.ndarray, *, rate: int, low_rate: int) -> np.ndarray:
    """Down to ``low_rate`` and back to ``rate`` (polyphase), same length."""
    g = gcd(rate, low_rate)
    down = resample_poly(x, low_rate // g, rate // g)
    return resample_poly(down, rate // g, low_rate // g)[: len(x)]


def augment(x: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random mastering chain applied to ``x [samples]`` (see the module docstring)."""
    y = tilt(x, rate=rate, db_per_octave=float(rng.uniform(-TILT_DB, TILT_DB)))
    if rng.random() < 0.5:
        y = compress(y, rate=rate, threshold_db=float(rng.uniform(6, 24)),
                     ratio=float(rng.uniform(2, 8)))
    if rng.random() < 1 / 3:
        y = band_limit(y, rate=rate, low_rate=int(rng.choice(LOW_RATES)))
    y = y * 10 ** (float(rng.uniform(-GAIN_DB, GAIN_DB)) / 20)
    return np.clip(y, -1.0, 1.0).astype(np.float32)
