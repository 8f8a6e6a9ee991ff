#!/usr/bin/env python3
"""The codec's latent space, pictured: held-out tracks projected to 2-D, and a few latents.

    python scripts/latent_map.py DATA [--map docs/latent-map.png]
        [--samples docs/latent-samples.png] [--max-seconds 120] [--json runs/latent-map.json]

DATA is what ``aecodec train-classifier`` reads (a folder with one sub-folder per label, or a
``path,label`` CSV such as ``scripts/make_genre_data.py``'s ``tracks.csv``) or a flat folder of
``<label>__*.wav`` clips (``scripts/make_heldout.py``'s layout). Every file is classification
source music, which the codec never trains on.

1. Latent map: each track's codec latent (``aecodec.genre.head.audio_latent``: the exact
   latent the classifier reads, 64 channels at 21.5 frames/s, first ``--max-seconds`` s) is cut
   into the classifier's segments (64 frames, hop 32; half-silent segments dropped); each
   segment's per-channel mean, standardised per channel, is one point. PCA (numpy SVD) to 2-D;
   small dots are segments, large rimmed markers track means, colour is the label. The axis
   labels give the variance each component explains; the JSON (and stdout) adds a
   nearest-centroid accuracy in the 2-D plane and in all 64 dimensions (segments, labels'
   centroids over all segments: a descriptive figure, not a held-out classifier).
2. Latent samples: for one track per label (the first), 10 s from 30 s in (earlier when
   shorter): the mel spectrogram (``aecodec.bench.spectrogram``) beside the latent: the fewest
   channels that hold 99 % of the latent variance over all tracks' frames, strongest first,
   each standardised by its mean and standard deviation over those frames.

Needs matplotlib (``pip install '.[plot]'``), not torch; ``OMP_NUM_THREADS=1`` keeps it on one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.dsp.audio import Audio, read_audio
from aecodec.genre.head import audio_latent, segment_starts, silent_frames

SEGMENT, HOP = 64, 32
SAMPLE_OFFSET_S, SAMPLE_S = 30.0, 10.0


def find_labelled(data: Path) -> list[tuple[Path, str]]:
    """(path, label) of every file: classifier dataset layouts or ``<label>__x.wav`` clips."""
    from aecodec.train.classifier import find_dataset

    if data.is_dir() and not any(p.is_dir() for p in data.iterdir()):
        return [(p, p.name.split("__")[0]) for p in sorted(data.glob("*.wav")) if "__" in p.name]
    return [(t.path, t.label) for t in find_dataset(data)]


def segment_vectors(latent: np.ndarray, quiet: np.ndarray) -> np.ndarray:
    """Per-channel means of the segments of ``latent [C, frames]`` that are less than half
    silent (``quiet``: bool ``[frames]``) -> ``[segments, C]``."""
    starts = [s for s in segment_starts(latent.shape[1], segment=SEGMENT, hop=HOP)
              if quiet[s:s + SEGMENT].mean() < 0.5]
    return np.stack([latent[:, s:s + SEGMENT].mean(1) for s in starts]) if starts else \
        np.zeros((0, latent.shape[0]), np.float32)


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise ``x [n, d]`` per column and project on its first two principal axes.

    Returns ``(points [n, 2], explained variance ratio [2], axes [2, d])``.
    """
    mean, std = x.mean(0), x.std(0)
    z = (x - mean) / np.where(std > 0, std, 1.0)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    var = s**2 / max(1, len(x) - 1)
    return z @ vt[:2].T, var[:2] / var.sum(), vt[:2]


def centroid_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows of ``x [n, d]`` nearest to their own label's centroid."""
    names = np.unique(labels)
    cents = np.stack([x[labels == n].mean(0) for n in names])
    d = ((x[:, None, :] - cents[None]) ** 2).sum(-1)
    return float((names[d.argmin(1)] == labels).mean())


def plot_map(png: Path, pts: np.ndarray, labels: np.ndarray, track_pts: np.ndarray,
             track_labels: np.ndarray, explained: np.ndarray, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 6))
    for i, name in enumerate(np.unique(labels)):
        sel = labels == name
        ax.scatter(pts[sel, 0], pts[sel, 1], s=5, alpha=0.35, color=f"C{i}")
        tsel = track_labels == name
        ax.scatter(track_pts[tsel, 0], track_pts[tsel, 1], s=60, color=f"C{i}",
                   edgecolors="black", linewidths=0.8, label=f"{name} ({tsel.sum()} tracks)")
    ax.set_xlabel(f"PC 1 ({explained[0] * 100:.1f} % of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1] * 100:.1f} % of variance)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def plot_samples(png: Path, samples: list[tuple[str, str, np.ndarray, np.ndarray]],
                 frame_s: float) -> None:
    """Spectrogram beside latent for each ``(label, name, mel dB [bands, t], z [k, frames])``
    (``z``: standardised channels, strongest first)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aecodec.bench.spectrogram import FLOOR_DB, SPEC_CMAP

    fig, axes = plt.subplots(len(samples), 2, figsize=(12, 2.4 * len(samples)), squeeze=False,
                             gridspec_kw={"hspace": 0.45})
    im = None
    for (label, name, db, z), (a, b) in zip(samples, axes):
        secs = z.shape[1] * frame_s
        a.imshow(db, origin="lower", aspect="auto", cmap=SPEC_CMAP, vmin=FLOOR_DB, vmax=0,
                 extent=(0, secs, 0, 11.025))
        a.set_title(f"{label}: {name}", fontsize=9, loc="left")
        a.set_ylabel("mel, 0-11 kHz")
        a.set_yticks([])
        im = b.imshow(z, origin="upper", aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3,
                      extent=(0, secs, z.shape[0], 0), interpolation="nearest")
        b.set_title(f"latent: {z.shape[0]} strongest channels x {z.shape[1]} frames",
                    fontsize=9, loc="left")
        b.set_ylabel("channel rank")
    for ax in axes[-1]:
        ax.set_xlabel("seconds")
    if im is not None:
        fig.colorbar(im, ax=axes[:, 1].tolist(), shrink=0.6,
                     label="standardised latent (per channel)")
    fig.savefig(png, dpi=72, bbox_inches="tight")
    plt.close(fig)


def strongest(var: np.ndarray, *, share: float) -> np.ndarray:
    """Indices of the fewest channels holding ``share`` of the total variance ``var [C]``,
    strongest first."""
    order = np.argsort(-var)
    k = int(np.searchsorted(np.cumsum(var[order]) / var.sum(), share)) + 1
    return order[:k]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path)
    p.add_argument("--map", type=Path, default=Path("docs/latent-map.png"))
    p.add_argument("--samples", type=Path, default=Path("docs/latent-samples.png"))
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--model", type=Path, default=None, help="codec weights [default: shipped]")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    from aecodec.bench.spectrogram import mel_db, need_matplotlib
    from aecodec.model.registry import load_model

    need_matplotlib("latent_map.py")
    t0 = time.time()
    net, meta = load_model(path=a.model) if a.model else load_model()
    st = net.cfg.stft
    frame_s = net.cfg.down * st.hop / st.rate
    quiet4 = audio_latent(Audio(np.zeros((4 * st.rate, 1), np.float32), st.rate), net)
    silence = quiet4[:, quiet4.shape[1] // 2]  # as aecodec.train.classifier.silence_latent
    files = find_labelled(a.data)
    got = []
    for path, label in files:
        audio = read_audio(path)
        n = min(audio.frames, int(a.max_seconds * audio.rate))
        got.append((path, label, audio, audio_latent(Audio(audio.samples[:n], audio.rate), net)))
    # the classifier's silence rule: 2 % of the latents' mean variance
    frames = np.concatenate([z for *_, z in got], axis=1)
    threshold = 0.02 * float(frames.var(1, ddof=1).mean())
    vecs, seg_labels, track_means, track_labels, latents = [], [], [], [], {}
    for path, label, audio, z in got:
        v = segment_vectors(z, silent_frames(z, silence, threshold=threshold))
        if not len(v):
            print(f"skipped (silent or shorter than a segment): {path}", file=sys.stderr)
            continue
        vecs.append(v)
        seg_labels += [label] * len(v)
        track_means.append(v.mean(0))
        track_labels.append(label)
        latents.setdefault(label, (path, audio))
    x = np.concatenate(vecs)
    labels, tlabels = np.array(seg_labels), np.array(track_labels)
    pts, explained, axes = pca_2d(x)
    mean, std = x.mean(0), np.where(x.std(0) > 0, x.std(0), 1.0)
    tpts = ((np.stack(track_means) - mean) / std) @ axes.T
    z_all = (x - mean) / std
    report = {"model": meta["model_id"], "sha256": meta["sha256"][:12], "data": str(a.data),
              "tracks": len(track_labels), "segments": len(x),
              "labels": {n: int((tlabels == n).sum()) for n in np.unique(tlabels)},
              "explained_variance_2d": [round(float(e), 4) for e in explained],
              "centroid_accuracy_2d": round(centroid_accuracy(pts, labels), 3),
              "centroid_accuracy_full": round(centroid_accuracy(z_all, labels), 3),
              "max_seconds": a.max_seconds}
    plot_map(a.map, pts, labels, tpts, tlabels, explained,
             f"{meta['model_id']} latents of {len(track_labels)} held-out tracks "
             f"({len(x)} segments of {SEGMENT * frame_s:.2f} s), PCA")
    frame_var = frames.var(1, ddof=1)
    keep = strongest(frame_var, share=0.99)
    report["channels_for_95pct_variance"] = len(strongest(frame_var, share=0.95))
    report["channels_for_99pct_variance"] = len(keep)
    fmean = frames.mean(1)
    samples = []
    for label, (path, audio) in sorted(latents.items()):
        start = int(min(SAMPLE_OFFSET_S, max(0.0, audio.duration - SAMPLE_S)) * audio.rate)
        clip = Audio(audio.samples[start:start + int(SAMPLE_S * audio.rate)], audio.rate)
        z = audio_latent(clip, net)
        zs = (z[keep] - fmean[keep, None]) / np.sqrt(frame_var[keep, None])
        samples.append((label, path.stem.split("__", 1)[-1],
                        mel_db(clip.samples.mean(1), rate=clip.rate), zs))
    plot_samples(a.samples, samples, frame_s)
    report["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(report, indent=1)
    print(text)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(text)


if __name__ == "__main__":
    main()
