"""Genre features from the layers a ``.aec`` file holds besides the base latent.

- **High band** (payload kind 4, :mod:`aecodec.coding.highband_layer`): the 11-20 kHz envelope,
  dB per band (:data:`aecodec.coding.highband.EDGES`) and slot, ``-inf`` where a band is empty.
  Per band: the fraction of empty slots and the mean, std, 10th and 90th percentile of the dB
  (empty slots and missing bands count as :data:`FILL_DB`). A file without the layer (a source
  at 22.05 kHz or less, or coded under 1.5 kbps) reads as every band empty.
- **Stereo image** (kind 5, :mod:`aecodec.coding.stereo_image`): ILD symbols ``[20 bands,
  slots]`` (3-dB steps) and ICC symbols ``[10 band pairs, groups]``. Per group of
  :data:`ILD_GROUP` bands: mean |ILD|, std of ILD over time, mean ILD (dB); per band pair the
  mean ICC; and the fraction of ICC cells that are fully coherent. A mono file reads as ILD 0,
  ICC 1 everywhere.

For audio, :func:`audio_side` computes the same symbols with the encoder's own analysis (the
envelope at slot 8 and 3-dB steps, the image at slot 8), so a WAV and its ``.aec`` see (nearly)
the same features; the ``.aec`` may hold a finer slot or step (12 kbps and up), which the pooled
statistics barely notice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aecodec.coding import highband as hb
from aecodec.coding import stereo_image as si

FILL_DB = -120.0
"""dB that an empty high-band slot counts as (the codec's floor is -150)."""
HB_BANDS = len(hb.EDGES) - 1
HB_SLOT, HB_STEP = 8, 3.0
"""The envelope settings an encoder uses below 9 kbps (:func:`highband_layer.params_for`)."""
IMAGE_SLOT = si.SLOT_FRAMES
ILD_GROUP = 5
HB_FEATURES = 5 * HB_BANDS
STEREO_FEATURES = 3 * (si.BANDS // ILD_GROUP) + -(-si.BANDS // si.ICC_BANDS) + 1
SIDE_FEATURES = HB_FEATURES + STEREO_FEATURES


def highband_features(env_db: np.ndarray | None) -> np.ndarray:
    """``[HB_FEATURES]`` from an envelope ``[bands <= 6, slots]`` in dB (``-inf`` empty;
    ``None``: no layer), grouped by band: empty fraction, mean, std, p10, p90."""
    out = np.zeros((HB_BANDS, 5))
    out[:, 0], out[:, 1:] = 1.0, [FILL_DB, 0.0, FILL_DB, FILL_DB]
    if env_db is not None and env_db.size:
        for b in range(min(HB_BANDS, env_db.shape[0])):
            e = env_db[b]
            v = np.where(np.isfinite(e), np.maximum(e, FILL_DB), FILL_DB)
            p10, p90 = np.percentile(v, [10, 90])
            out[b] = [float(np.mean(~np.isfinite(e))), v.mean(), v.std(), p10, p90]
    return out.ravel()


def stereo_features(q_ild: np.ndarray | None, q_icc: np.ndarray | None) -> np.ndarray:
    """``[STEREO_FEATURES]`` from ILD symbols ``[20, slots]`` and ICC symbols ``[10, groups]``
    (``None``: a mono file)."""
    groups = si.BANDS // ILD_GROUP
    pairs = -(-si.BANDS // si.ICC_BANDS)
    if q_ild is None or q_icc is None or not q_ild.size:
        return np.concatenate([np.zeros(3 * groups), np.ones(pairs), [1.0]])
    ild, rho = si.dequantize(q_ild, q_icc)
    icc = rho.real
    g = ild[:groups * ILD_GROUP].reshape(groups, ILD_GROUP * ild.shape[1])
    ild_f = np.concatenate([np.abs(g).mean(1), ild[:groups * ILD_GROUP].std(1).reshape(
        groups, ILD_GROUP).mean(1), g.mean(1)])
    return np.concatenate([ild_f, icc.mean(1)[:pairs], [float(np.mean(q_icc == 0))]])


def side_features(env_db: np.ndarray | None, q_ild: np.ndarray | None,
                  q_icc: np.ndarray | None) -> np.ndarray:
    """``[SIDE_FEATURES]``: :func:`highband_features` then :func:`stereo_features`."""
    return np.concatenate([highband_features(env_db), stereo_features(q_ild, q_icc)])


def audio_side(samples: np.ndarray, rate: int) -> tuple[np.ndarray | None, np.ndarray | None,
                                                         np.ndarray | None]:
    """The encoder's analysis of ``samples [n, channels]`` at ``rate``: the high-band envelope
    (dB ``[bands, slots]``, quantized to the 3-dB grid; None at 22.05 kHz or less) and the
    stereo image symbols (ILD ``[20, slots]``, ICC ``[10, groups]``; None unless 2 channels)."""
    from aecodec.dsp.np_spectral import stft
    from aecodec.dsp.resample import resample
    x = np.asarray(samples, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    mono = x.mean(1)
    env = None
    bands = hb.band_count(rate)
    if bands:
        slots = max(1, -(-round(len(mono) / rate * hb.MODEL_RATE / hb.MODEL_HOP) // HB_SLOT))
        env = hb.analyze(mono, rate=rate, x0=0, s0=0, s1=slots, slot=HB_SLOT, bands=bands)
        env = hb.dequantize(hb.quantize(env, step=HB_STEP), step=HB_STEP)
    q_ild = q_icc = None
    if x.shape[1] == 2:
        lr = resample(x, orig_rate=rate, new_rate=hb.MODEL_RATE)
        spec = stft(np.ascontiguousarray(lr.T), n_fft=1024, hop=hb.MODEL_HOP)
        q_ild, q_icc = si.encode_chunk(spec[0].astype(np.complex128),
                                       spec[1].astype(np.complex128), rate=hb.MODEL_RATE,
                                       slot=IMAGE_SLOT)
    return env, q_ild, q_icc


def _coarsen_env(env: np.ndarray, factor: int) -> np.ndarray:
    """An envelope at a finer slot -> the slot-``HB_SLOT`` grid (mean power over ``factor``
    slots, then the 3-dB grid), so a 12-kbps file reads like the analysis of its audio."""
    if factor <= 1:
        return env
    bands, slots = env.shape
    n = -(-slots // factor)
    power = np.where(np.isfinite(env), 10.0 ** (env / 10), np.nan)
    power = np.pad(power, ((0, 0), (0, n * factor - slots)), constant_values=np.nan)
    grid = power.reshape(bands, n, factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(np.isnan(grid).all(2), 0.0, np.nan_to_num(grid).sum(2)
                        / np.maximum(1, (~np.isnan(grid)).sum(2)))
        db = np.where(mean > 0, 10 * np.log10(np.maximum(mean, 1e-300)), -np.inf)
    return hb.dequantize(hb.quantize(db, step=HB_STEP), step=HB_STEP)


def aec_side(layers: list[tuple[Any, Any]], meta: dict[str, Any]) -> tuple[
        np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The per-chunk layers :func:`aecodec.codec.parse.stream_latent` collected -> the
    arguments of :func:`side_features` (envelopes brought to the slot-8 grid, ILD of a slot-4
    image averaged over pairs of slots)."""
    envs = [e for e, _ in layers if isinstance(e, np.ndarray)]
    env = None
    if envs:
        slot = int(meta["highband"]["slot"])
        env = np.concatenate([_coarsen_env(e, max(1, HB_SLOT // slot)) for e in envs], axis=1)
    images = [im for _, im in layers if im is not None]
    if not images:
        return env, None, None
    factor = max(1, IMAGE_SLOT // int(meta["image"]["slot"]))
    ilds = []
    for q_ild, _ in images:
        q = q_ild.astype(np.float64)
        if factor > 1:
            n = -(-q.shape[1] // factor)
            q = np.pad(q, ((0, 0), (0, n * factor - q.shape[1])), mode="edge")
            q = np.round(q.reshape(q.shape[0], n, factor).mean(2))
        ilds.append(q)
    return (env, np.concatenate(ilds, axis=1).astype(np.int8),
            np.concatenate([icc for _, icc in images], axis=1))
