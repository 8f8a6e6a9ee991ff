"""File-level genre features: statistics of the codec latent pooled over the whole file.

A file's coded latent ``[C, frames]`` (the base layer a ``.aec`` file holds, or the one a default
encode of the audio would store) gives, over its non-silent frames and per channel: the mean,
the standard deviation, the 10th/50th/90th percentiles, the mean absolute frame-to-frame
change and the standard deviation of the means of 64-frame blocks (slow change). These
``7 * C`` numbers are the features of :class:`PooledClassifier`, a multinomial logistic
regression (standardised features, numpy only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

STATS = ("mean", "std", "p10", "p50", "p90", "delta", "slow")
BLOCK = 64
"""Frames per block of the ``slow`` statistic (2.97 s at 21.5 frames/s)."""


def pooled_features(latent: np.ndarray, quiet: np.ndarray | None = None) -> np.ndarray:
    """Features ``[len(STATS) * C]`` of ``latent [C, frames]`` over the frames not ``quiet
    [frames]`` (all frames when fewer than 8 are loud), grouped by statistic."""
    z = np.asarray(latent, np.float64)
    if quiet is not None and int((~quiet).sum()) >= 8:
        keep = ~np.asarray(quiet, bool)
        d = np.abs(np.diff(z, axis=1))[:, keep[1:] & keep[:-1]] if z.shape[1] > 1 else z[:, :0]
        z = z[:, keep]
    else:
        d = np.abs(np.diff(z, axis=1))
    p10, p50, p90 = np.percentile(z, [10, 50, 90], axis=1)
    n = z.shape[1] // BLOCK
    slow = (z[:, :n * BLOCK].reshape(z.shape[0], n, BLOCK).mean(2).std(1) if n >= 2
            else np.zeros(z.shape[0]))
    delta = d.mean(1) if d.shape[1] else np.zeros(z.shape[0])
    return np.concatenate([z.mean(1), z.std(1), p10, p50, p90, delta, slow])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits [n, k]``."""
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def fit_logreg(x: np.ndarray, y: np.ndarray, *, classes: int, lam: float,
               weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Multinomial logistic regression on ``x [n, d]``, labels ``y [n]``: features standardised
    by their (weighted) training mean and std, L2 penalty ``lam`` on the weights (not the bias),
    sample ``weights [n]`` (normalised to sum 1). Returns ``{"mu", "sd", "w" [d, k], "b" [k]}``.
    Deterministic (L-BFGS from zero)."""
    from scipy.optimize import minimize
    n, d = x.shape
    w_s = np.full(n, 1.0 / n) if weights is None else weights / weights.sum()
    mu = (w_s[:, None] * x).sum(0)
    sd = np.sqrt((w_s[:, None] * (x - mu) ** 2).sum(0)) + 1e-6
    xs = (x - mu) / sd
    onehot = np.eye(classes)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d * classes].reshape(d, classes), theta[d * classes:]
        p = softmax(xs @ w + b)
        nll = -(w_s * np.log(np.clip((p * onehot).sum(1), 1e-12, None))).sum()
        g = w_s[:, None] * (p - onehot)
        return (nll + 0.5 * lam * float((w ** 2).sum()),
                np.concatenate([(xs.T @ g + lam * w).ravel(), g.sum(0)]))

    res = minimize(loss, np.zeros(d * classes + classes), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500})
    return {"mu": mu, "sd": sd, "w": res.x[:d * classes].reshape(d, classes),
            "b": res.x[d * classes:]}


def logreg_probs(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Label probabilities ``[n, k]`` of features ``x [n, d]``."""
    return softmax(((x - model["mu"]) / model["sd"]) @ model["w"] + model["b"])


POOLED_TYPE = "pooled"  # = aecodec.genre.head.POOLED
"""``config["type"]`` of a pooled classifier file (a head file's config has no ``type``)."""
FEATURE_SETS = ("latent", "highband", "stereo")
"""In this order: :func:`pooled_features` of the latent, then
:func:`aecodec.genre.side.highband_features`, then :func:`aecodec.genre.side.stereo_features`."""
PIECE_SECONDS = 30.0
"""Audio is analysed for the side layers in pieces this long (memory stays flat)."""


FALLBACKS = {"mono_": ["latent", "highband"], "nohb_": ["latent", "stereo"],
             "latent_": ["latent"]}
"""The fallback models a classifier may also hold (state prefix -> features), for files
without a stereo image (mono), without a high band (a source at 22.05 kHz or less, a ``.aec``
under 1.5 kbps), or without both (:meth:`PooledClassifier.pick`)."""


def _width(name: str, channels: int) -> int:
    from aecodec.genre.side import HB_FEATURES, STEREO_FEATURES
    return {"latent": len(STATS) * channels, "highband": HB_FEATURES,
            "stereo": STEREO_FEATURES}[name]


def columns(features: list[str], keep: list[str], *, channels: int) -> np.ndarray:
    """Column indices of the feature sets ``keep`` in a vector of ``features``."""
    out: list[int] = []
    at = 0
    for f in features:
        w = _width(f, channels)
        if f in keep:
            out.extend(range(at, at + w))
        at += w
    return np.array(out, np.int64)


class PooledClassifier:
    """File features -> label probabilities ``[labels]`` (numpy).

    ``cfg``: ``{"type": "pooled", "channels", "segment", "silence_threshold", "features"}``
    and optionally ``"fallbacks"``: ``{prefix: features}`` (:data:`FALLBACKS`; features are
    subsets of :data:`FEATURE_SETS`, in order); ``state``: ``mu``, ``sd`` ``[d]``, ``w [d,
    labels]``, ``b [labels]``, ``silence [channels]`` and ``<prefix>mu`` ... ``<prefix>b`` for
    each fallback. A file gets the model that reads the most of the layers it has and no other
    (:meth:`pick`).
    """

    def __init__(self, cfg: dict[str, Any], labels: list[str], state: dict[str, np.ndarray]
                 ) -> None:
        self.cfg, self.labels = dict(cfg), list(labels)
        self.channels, self.segment = int(cfg["channels"]), int(cfg["segment"])
        self.silence_threshold = float(cfg["silence_threshold"])
        self.silence = np.asarray(state["silence"], np.float32)
        if self.silence.shape != (self.channels,):
            raise ValueError("silence latent does not fit the channels")
        self.models: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {}
        fallbacks = cfg.get("fallbacks", {})
        if not isinstance(fallbacks, dict):
            raise TypeError("fallbacks must be an object")
        for prefix, feats in [("", cfg["features"]), *sorted(fallbacks.items())]:
            if not isinstance(feats, list) or (prefix and prefix not in FALLBACKS):
                raise ValueError(f"bad model {prefix!r}")
            if not feats or any(f not in FEATURE_SETS for f in feats) or feats != sorted(
                    feats, key=FEATURE_SETS.index):
                raise ValueError(f"unknown feature sets {feats}")
            model = {k: np.asarray(state[prefix + k], np.float64) for k in ("mu", "sd", "w", "b")}
            d = sum(_width(f, self.channels) for f in feats)
            if model["w"].shape != (d, len(labels)) or model["b"].shape != (len(labels),) \
                    or model["mu"].shape != (d,) or model["sd"].shape != (d,):
                raise ValueError("weights do not fit the features and labels")
            self.models[prefix] = (feats, model)

    @property
    def uses_side(self) -> bool:
        return any(f != "latent" for feats, _ in self.models.values() for f in feats)

    def pick(self, have: list[str]) -> tuple[list[str], dict[str, np.ndarray]]:
        """The model for a file with the feature sets ``have``: of those that read only what
        it has, the one that reads the most (the main one first); else the main one."""
        fits = [m for m in self.models.values() if set(m[0]) <= set(have)]
        return max(fits, key=lambda m: len(m[0])) if fits else self.models[""]

    def probs(self, parts: dict[str, np.ndarray], *, have: list[str]) -> np.ndarray:
        """``[labels]`` from the feature vectors ``parts`` (by :data:`FEATURE_SETS` name) of a
        file that has the layers ``have`` (:meth:`pick`)."""
        feats, model = self.pick(have)
        return logreg_probs(model, np.concatenate([parts[f] for f in feats])[None])[0]


def state_of(model: dict[str, np.ndarray], silence: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays a pooled classifier file stores (float64: the file is a few kB)."""
    return {**{k: np.asarray(v, np.float64) for k, v in model.items()},
            "silence": np.asarray(silence, np.float32)}


def audio_side_pieces(path: Any, *, name: str) -> tuple[
        np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The high-band envelope and stereo image symbols of an audio file
    (:func:`aecodec.genre.side.audio_side`, analysed in ``PIECE_SECONDS`` pieces and joined)."""
    from aecodec.dsp.audio import iter_blocks, open_audio
    from aecodec.genre.side import audio_side
    envs, ilds, iccs = [], [], []

    def take(piece: np.ndarray, rate: int) -> None:
        env, q_ild, q_icc = audio_side(piece, rate)
        if env is not None:
            envs.append(env)
        if q_ild is not None and q_icc is not None:
            ilds.append(q_ild)
            iccs.append(q_icc)

    with open_audio(path) as audio:
        rate = int(audio.samplerate)
        n = int(PIECE_SECONDS * rate)
        buf: list[np.ndarray] = []
        have = 0
        for block in iter_blocks(audio, name=name):
            buf.append(block)
            have += len(block)
            if have >= n:
                whole = np.concatenate(buf)
                take(whole[:n], rate)
                buf, have = [whole[n:]], len(whole) - n
        if have:
            take(np.concatenate(buf), rate)
    return (np.concatenate(envs, 1) if envs else None,
            np.concatenate(ilds, 1) if ilds else None,
            np.concatenate(iccs, 1) if iccs else None)


def classify_pooled(path: Any, *, clf: PooledClassifier, meta: dict[str, Any],
                    top: int = 3) -> dict[str, Any]:
    """:func:`aecodec.genre.head.classify_file` for a pooled classifier: features of the
    file's coded latent (and, if it uses them, of its high-band and stereo layers: read from a
    ``.aec``, analysed from audio) -> probabilities."""
    from pathlib import Path

    from aecodec.errors import AecError, InputError
    from aecodec.genre.head import file_latent, silent_frames
    from aecodec.genre.side import aec_side, highband_features, stereo_features
    layers: dict[str, Any] = {}
    latent, step, frame_s = file_latent(path, meta["codec"], layers=layers)
    name = str(path)
    if latent.shape[0] != clf.channels:
        raise AecError(f"{name}: latent has {latent.shape[0]} channels, "
                       f"the classifier expects {clf.channels}")
    if latent.shape[1] < clf.segment:
        raise InputError(f"{name}: too short to classify ({latent.shape[1] * frame_s:.2f} s; "
                         f"one segment needs {clf.segment * frame_s:.2f} s)")
    quiet = silent_frames(latent, clf.silence, threshold=clf.silence_threshold, step=step)
    if int((~quiet).sum()) < 8:
        raise InputError(f"{name}: no music to classify (silent or nearly so)")
    parts = {"latent": pooled_features(latent, quiet)}
    env = q_ild = q_icc = None
    if clf.uses_side:
        env, q_ild, q_icc = (aec_side(layers["chunks"], layers["meta"]) if layers
                             else audio_side_pieces(path, name=name))
        parts.update(highband=highband_features(env), stereo=stereo_features(q_ild, q_icc))
    have = ["latent"] + (["highband"] if env is not None else []) + (
        ["stereo"] if q_ild is not None else [])
    probs = clf.probs(parts, have=have)
    order = np.argsort(-probs, kind="stable")[:top].tolist()
    best = [{"label": clf.labels[i], "probability": round(float(probs[i]), 4)} for i in order]
    return {"file": name, "label": best[0]["label"], "probability": best[0]["probability"],
            "top": best, "input": "aec" if Path(path).suffix.lower() == ".aec" else "audio"}
