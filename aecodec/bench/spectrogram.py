"""Spectrogram pictures for the listening report: mel-scale dB images on ONE colour scale.

Every picture of a report uses the same absolute scale (dB re a full-scale sine, from
:data:`FLOOR_DB` to 0 dB), so two players' pictures can be compared by eye, and a difference
picture (codec minus original, clipped to +-:data:`DIFF_DB`) shows what a codec added (red) or
lost (blue). Images are palette PNGs (:data:`LEVELS` colours), made with the colour maps of
matplotlib (the ``[plot]`` extra) and written by Pillow, which matplotlib depends on.
"""

from __future__ import annotations

import io

import numpy as np

from aecodec.bench.metrics import hz_to_mel, mel_to_hz, stft_magnitude
from aecodec.dsp.resample import resample
from aecodec.errors import AecError

SPEC_RATE, SPEC_N_FFT, SPEC_HOP, SPEC_BANDS = 22_050, 2048, 256, 128
"""Rate, FFT size, hop and number of mel bands of :func:`mel_db` (0 - 11025 Hz)."""
FLOOR_DB = -100.0
"""Bottom of the colour scale (and floor of every spectrogram before differences)."""
DIFF_DB = 20.0
"""Difference pictures span -DIFF_DB .. +DIFF_DB."""
MAX_COLUMNS = 640
"""Longer spectrograms are averaged down to this many columns."""
LEVELS = 64
"""Colours a picture uses: 1.6 dB steps on the spectrogram scale, 0.6 dB on the difference
scale; 64 rather than 256 halves the PNG size (37 against 76 kB for 10 s, 800 columns)."""
SPEC_CMAP, DIFF_CMAP = "magma", "RdBu_r"


def need_matplotlib(what: str) -> None:
    """Raise a one-line :class:`AecError` when the ``[plot]`` extra is missing."""
    try:
        import matplotlib  # noqa: F401
        import PIL  # noqa: F401
    except ImportError:
        raise AecError(f"{what} needs matplotlib: pip install 'aecodec[plot]'") from None


def _peak_filters(*, rate: int, n_fft: int, n_bands: int) -> np.ndarray:
    """Triangular mel filters with peak 1 ``[n_bands, n_fft//2+1]`` (a tone keeps its level)."""
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(rate / 2), n_bands + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs - lower) / (centre - lower)
    fall = (upper - freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rise, fall))


def mel_db(x: np.ndarray, *, rate: int, max_columns: int = MAX_COLUMNS) -> np.ndarray:
    """Mel spectrogram in dB: mono ``[samples]`` at ``rate`` -> float32 ``[bands, columns]``.

    Band 0 is the lowest frequency. Band power is scaled so that a full-scale sine reads
    about 0 dB (a little less in the lowest bands, narrower than the window's main lobe); values are floored at :data:`FLOOR_DB`. More than ``max_columns`` frames are
    averaged (in dB) down to ``max_columns`` columns.
    """
    y = resample(np.asarray(x, dtype=np.float32), orig_rate=rate, new_rate=SPEC_RATE)
    power = stft_magnitude(y, n_fft=SPEC_N_FFT, hop=SPEC_HOP) ** 2
    bands = _peak_filters(rate=SPEC_RATE, n_fft=SPEC_N_FFT, n_bands=SPEC_BANDS) @ power
    # a unit sine through a periodic Hann window puts 3 n_fft^2 / 32 of power into its main lobe
    db = np.maximum(10 * np.log10(bands / (3 * SPEC_N_FFT**2 / 32) + 1e-20), FLOOR_DB)
    if db.shape[1] > max_columns:
        edges = np.linspace(0, db.shape[1], max_columns + 1).astype(int)
        db = np.add.reduceat(db, edges[:-1], axis=1) / np.diff(edges)[None]
    return db.astype(np.float32)


def _palette_png(values: np.ndarray, cmap: str) -> bytes:
    """Values in [0, 1] ``[rows, columns]`` -> PNG bytes, :data:`LEVELS` colours of ``cmap``."""
    import matplotlib
    from PIL import Image

    lut = (matplotlib.colormaps[cmap](np.linspace(0, 1, LEVELS))[:, :3] * 255).round()
    index = (np.clip(values, 0.0, 1.0) * (LEVELS - 1)).round().astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(index), mode="P")
    img.putpalette(lut.astype(np.uint8).ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def spec_png(db: np.ndarray) -> bytes:
    """PNG of a :func:`mel_db` picture ``[bands, columns]`` on the fixed scale (low band at the
    bottom)."""
    scaled = (np.clip(db, FLOOR_DB, 0.0) - FLOOR_DB) / -FLOOR_DB
    return _palette_png(scaled[::-1], SPEC_CMAP)


def diff_png(db: np.ndarray, ref_db: np.ndarray) -> bytes:
    """PNG of ``db - ref_db`` clipped to +-:data:`DIFF_DB` (red: louder than the original)."""
    n = min(db.shape[1], ref_db.shape[1])
    d = np.clip(db[:, :n] - ref_db[:, :n], -DIFF_DB, DIFF_DB) / (2 * DIFF_DB) + 0.5
    return _palette_png(d[::-1], DIFF_CMAP)


def legend_png(cmap: str, *, width: int = 256, height: int = 12) -> bytes:
    """A horizontal colour bar, low values on the left."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return _palette_png(ramp, cmap)
