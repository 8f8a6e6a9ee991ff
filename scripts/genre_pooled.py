#!/usr/bin/env python3
"""Leave-one-artist-out evaluation of pooled file-level features (issue 15).

    python scripts/genre_pooled.py --data data/genre_set/tracks.csv --cache data/genre_set/cache
        [--side side.npz [--side-aug side-vorbis.npz] [--drop stereo,highband | --only-side]]
        [--fixed LAM,WEIGHTING] [--json runs/pooled.json] [--ship models]

The latents are the genre set's cache (``scripts/genre_loao.py``); ``--side`` adds the high-band
and stereo-image features of ``scripts/genre_side_set.py``. Every artist group is held out in turn (true leave-one-artist-out: one training per group) and
a logistic regression on the file's pooled statistics (:mod:`aecodec.genre.pooled`) is fitted
on the other groups' files. Its hyperparameters (L2 penalty, artist weighting) are chosen
*inside* each fold, by a leave-groups-out split of the training artists only (``--inner``
folds), so no figure is tuned on the artist it reports. Reports per file and per genre, the
confusion matrix, and split-by-track beside it. ``--ship`` also fits the classifier on every
file (settings chosen the same way over all artists; with the side features, also the
fallback models for files without a stereo image, without a high band, or without both:
:data:`aecodec.genre.pooled.FALLBACKS`) and writes ``<model-id>-<sha12>.npz``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from genre_loao import EVAL_STEP, encode, markdown, read_rows, summarize

from aecodec.genre.head import silent_frames
from aecodec.genre.pooled import (
    FALLBACKS,
    POOLED_TYPE,
    columns,
    fit_logreg,
    logreg_probs,
    pooled_features,
    state_of,
)
from aecodec.model.npz_weights import CLASSIFIER_KIND, save_npz
from aecodec.model.registry import load_model
from aecodec.train.classifier import silence_latent

LAMS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
WEIGHTINGS = ("file", "sqrt", "artist")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def coded(z: np.ndarray, step: float = EVAL_STEP) -> np.ndarray:
    return np.clip(np.round(z / step), -127, 127) * step


def file_features(z: np.ndarray, silence: np.ndarray, threshold: float) -> np.ndarray:
    """Pooled features of the coded latent ``z [C, frames]`` (as the .aec base layer has it)."""
    zc = coded(z)
    quiet = silent_frames(zc, silence, threshold=threshold,
                          step=np.full(z.shape[1], EVAL_STEP))
    return pooled_features(zc, quiet)


def sample_weights(labels: np.ndarray, artists: list[str], how: str, k: int) -> np.ndarray:
    """Each genre sums to 1/k; within a genre a file weighs 1 (``file``), 1/sqrt(files of its
    artist) (``sqrt``) or 1/files of its artist (``artist``: every artist weighs the same)."""
    art = np.array(artists)
    count = {a: int((art == a).sum()) for a in set(artists)}
    w = np.array([1.0 if how == "file" else count[a] ** -0.5 if how == "sqrt" else 1.0 / count[a]
                  for a in artists])
    for c in range(k):
        m = labels == c
        if m.any():
            w[m] /= w[m].sum() * k
    return w


def group_folds(artists: list[str], n: int) -> list[set[str]]:
    order = sorted(set(artists))
    rng = np.random.default_rng(0)
    rng.shuffle(order)
    return [set(order[i::n]) for i in range(n)]


def train_rows(x: np.ndarray, x_aug: np.ndarray | None, y: np.ndarray, art: np.ndarray,
         mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Training rows of ``mask``: the files, and their second versions ``x_aug`` if given."""
    if x_aug is None:
        return x[mask], y[mask], list(art[mask])
    return (np.concatenate([x[mask], x_aug[mask]]), np.concatenate([y[mask], y[mask]]),
            list(art[mask]) * 2)


def choose(x: np.ndarray, y: np.ndarray, artists: list[str], k: int, inner: int,
           x_aug: np.ndarray | None = None) -> tuple[float, str, float]:
    """Hyperparameters by leave-groups-out log loss over the training artists only (the
    held-out part scored on ``x``, the training part fitted on ``x`` and ``x_aug``)."""
    best = (np.inf, LAMS[0], WEIGHTINGS[0])
    folds = group_folds(artists, inner)
    art = np.array(artists)
    for how in WEIGHTINGS:
        for lam in LAMS:
            nll = 0.0
            for held in folds:
                te = np.isin(art, list(held))
                tr = ~te
                if len(set(y[tr])) < k or not te.any():
                    continue
                xt, yt, at = train_rows(x, x_aug, y, art, tr)
                m = fit_logreg(xt, yt, classes=k, lam=lam, weights=sample_weights(yt, at, how, k))
                p = logreg_probs(m, x[te])
                we = sample_weights(y[te], list(art[te]), "file", k)
                nll -= float((we * np.log(np.clip(p[np.arange(te.sum()), y[te]], 1e-9, None))).sum())
            if nll < best[0]:
                best = (nll, lam, how)
    return best[1], best[2], best[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--labels", default="chiptune,electronic,orchestral,rock-metal")
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--fixed", default=None, help="LAM,WEIGHTING: no inner selection")
    ap.add_argument("--side", type=Path, default=None,
                    help="npz of side-layer features per file (scripts/genre_side_set.py): "
                         "appended to the latent's")
    ap.add_argument("--only-side", action="store_true", help="the side features alone")
    ap.add_argument("--drop", default="",
                    help="feature sets to leave out (stereo, highband): the models files "
                         "without those layers get")
    ap.add_argument("--side-aug", type=Path, default=None,
                    help="npz of a second version of every file's side features (modules "
                         "through Vorbis): training sees both versions, tests see --side's")
    ap.add_argument("--ship", type=Path, default=None,
                    help="also fit on every file (hyperparameters chosen by the inner split "
                         "over all artists) and write <model-id>-<sha12>.npz into this folder")
    ap.add_argument("--model-id", default="aecodec-genres")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    labels = sorted(args.labels.split(","))
    k = len(labels)
    net, meta = load_model()
    rows = read_rows(args.data, labels)
    items = encode(rows, net, copies=1, cache=args.cache, seed=0)
    silence = silence_latent(net).numpy()
    var = float(torch.cat([it.clean for it in items], dim=1).var(1).mean())
    thr = round(0.02 * var, 6)
    x = np.stack([file_features(it.clean.numpy(), silence, thr) for it in items])
    if args.side is not None:
        with np.load(args.side, allow_pickle=False) as ex:
            extra = np.stack([ex[it.path.name] for it in items])
        x = extra if args.only_side else np.concatenate([x, extra], 1)
    x_aug = None
    if args.side_aug is not None:
        with np.load(args.side_aug, allow_pickle=False) as ex:
            extra = np.stack([ex[it.path.name] for it in items])
        x_aug = extra if args.only_side else np.concatenate([x[:, :x.shape[1] - extra.shape[1]],
                                                              extra], 1)
    features = (["highband", "stereo"] if args.only_side else ["latent", "highband", "stereo"]
                ) if args.side else ["latent"]
    x_all, x_aug_all, features_all = x, x_aug, features  # for the fallbacks of --ship
    if args.drop and args.side:  # a fallback model: files without those layers
        keep = [f for f in features if f not in args.drop.split(",")]
        cols = columns(features, keep, channels=int(items[0].clean.shape[0]))
        x = x[:, cols]
        x_aug = None if x_aug is None else x_aug[:, cols]
        features = keep
    y = np.array([labels.index(it.label) for it in items])
    artists = [it.artist for it in items]
    log(f"{len(items)} files, {len(set(artists))} artists, {x.shape[1]} features")
    t0 = time.time()
    out, chosen = [], []
    art = np.array(artists)
    for a in sorted(set(artists)):
        te = art == a
        tr = ~te
        if args.fixed:
            lam, how = float(args.fixed.split(",")[0]), args.fixed.split(",")[1]
        else:
            lam, how, _ = choose(x[tr], y[tr], list(art[tr]), k, args.inner,
                                 None if x_aug is None else x_aug[tr])
        chosen.append((a, lam, how))
        xt, yt, at = train_rows(x, x_aug, y, art, tr)
        m = fit_logreg(xt, yt, classes=k, lam=lam, weights=sample_weights(yt, at, how, k))
        p = logreg_probs(m, x[te])
        for i, pi in zip(np.nonzero(te)[0], p):
            out.append({"file": items[i].path.name, "artist": a, "label": items[i].label,
                        "pred": labels[int(pi.argmax())], "seg_right": int(pi.argmax() == y[i]),
                        "segs": 1, "probs": [round(float(v), 4) for v in pi]})
    loao = summarize(out, labels)
    loao.update(rows=out, folds=len(set(artists)), seconds=time.time() - t0)
    log(f"LOAO file {loao['file_accuracy']:.3f} genre mean {loao['mean_genre_file']:.3f} "
        f"{loao['per_genre_file']} ({loao['seconds']:.0f} s)")
    log(f"confusion {loao['confusion']}")
    lamc = {}
    for _, lam, how in chosen:
        lamc[f"{lam},{how}"] = lamc.get(f"{lam},{how}", 0) + 1
    log(f"chosen: {lamc}")
    # split by track beside it: 5 random 20 % splits, the first choice of the grid's mode
    lam, how = max(lamc, key=lamc.get).split(",")
    rng = np.random.default_rng(0)
    by = []
    for _ in range(5):
        te = np.zeros(len(y), bool)
        for c in range(k):
            idx = np.nonzero(y == c)[0]
            te[rng.choice(idx, max(1, round(0.2 * len(idx))), replace=False)] = True
        xt, yt, at = train_rows(x, x_aug, y, art, ~te)
        m = fit_logreg(xt, yt, classes=k, lam=float(lam), weights=sample_weights(yt, at, how, k))
        p = logreg_probs(m, x[te])
        by += [{"file": items[i].path.name, "artist": artists[i], "label": items[i].label,
                "pred": labels[int(pi.argmax())], "seg_right": int(pi.argmax() == y[i]), "segs": 1}
               for i, pi in zip(np.nonzero(te)[0], p)]
    track = summarize(by, labels)
    log(f"split by track file {track['file_accuracy']:.3f}")
    report = {"labels": labels, "results": [{"config": "pooled", "loao": loao, "by_track": {
        kk: track[kk] for kk in ("file_accuracy", "segment_accuracy", "per_genre_file")}}],
        "chosen": chosen, "features": int(x.shape[1])}
    if args.ship is not None:
        t1 = time.time()
        lam, how, _ = ((float(args.fixed.split(",")[0]), args.fixed.split(",")[1], 0.0)
                       if args.fixed else choose(x, y, artists, k, args.inner, x_aug))
        xt, yt, at = train_rows(x, x_aug, y, art, np.ones(len(y), bool))
        m = fit_logreg(xt, yt, classes=k, lam=lam, weights=sample_weights(yt, at, how, k))
        minutes: dict[str, dict[str, float]] = {}
        for it in items:
            minutes.setdefault(it.label, {}).setdefault(it.artist, 0.0)
            minutes[it.label][it.artist] = round(minutes[it.label][it.artist] + it.minutes, 2)
        info = {"dataset": str(args.data), "recipe": "pooled logistic regression",
                "lam": lam, "weighting": how, "tracks": len(items), "artists": minutes,
                "excerpt_seconds": 40.0, "eval_step": EVAL_STEP,
                "loao_file_accuracy": round(loao["file_accuracy"], 4),
                "train_seconds": round(time.time() - t1, 1), "command": " ".join(sys.argv)}
        config = {"type": POOLED_TYPE, "channels": int(items[0].clean.shape[0]),
                  "segment": 64, "silence_threshold": thr, "features": features}
        state = state_of(m, silence)
        fallbacks = {}
        for prefix, keep in ((p, kp) for p, kp in FALLBACKS.items()
                             if not args.only_side and args.side and kp != features):
            cols = columns(features_all, keep, channels=int(items[0].clean.shape[0]))
            xm, xm_aug = x_all[:, cols], None if x_aug_all is None else x_aug_all[:, cols]
            lam_m, how_m, _ = ((lam, how, 0.0) if args.fixed
                               else choose(xm, y, artists, k, args.inner, xm_aug))
            xt, yt, at = train_rows(xm, xm_aug, y, art, np.ones(len(y), bool))
            fb = fit_logreg(xt, yt, classes=k, lam=lam_m, weights=sample_weights(yt, at, how_m, k))
            state.update({prefix + kk: v for kk, v in state_of(fb, silence).items()
                          if kk != "silence"})
            fallbacks[prefix] = list(keep)
            info[prefix + "settings"] = [lam_m, how_m]
        if fallbacks:
            config["fallbacks"] = fallbacks
        header = {"kind": CLASSIFIER_KIND, "model_id": args.model_id, "labels": labels,
                  "config": config, "info": info,
                  "codec": {"id": meta["model_id"], "sha256": meta["sha256"]}}
        shipped = save_npz(header, state, args.ship, model_id=args.model_id)
        report["shipped"] = str(shipped)
        log(f"wrote {shipped} (lam {lam}, {how})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
