#!/usr/bin/env python3
"""Leave-one-artist-out evaluation of the genre head on the multi-artist genre set (issue 15).

    python scripts/genre_loao.py --data data/genre_set/tracks.csv --cache data/genre_set/cache
        [--labels chiptune,electronic,orchestral,rock-metal] [--configs base,norm,aug,norm+aug]
        [--steps 600] [--json runs/genre-loao.json]

``tracks.csv`` is written by ``scripts/make_genre_set.py``: ``source`` is the artist group
(artists grouped across packages), so every fold holds out one artist and trains on every
other artist's tracks: no clip of a held-out artist is seen in training. Per config it reports
per-file (vote) and per-segment accuracy, per genre, and the confusion matrix; and, beside it,
the old split-by-track figure (5 random track splits, 20 % of each genre's tracks held out).

Configs (any ``+`` combination):
  base  the head as shipped before (training-set channel normalisation);
  norm  per-file channel normalisation (each file's latent minus its own mean over its
        non-silent frames, divided by its own std), so a static EQ or gain offset is gone;
  aug   the training set also holds augmented copies of every track (EQ tilt, gain, mastering
        compression, resampling: ``aecodec.train.genre_aug``) besides the quantizer-step
        augmentation in latent space that stands for the codec at 1.5-24 kbps;
  cap   minutes per artist capped (``--cap-minutes``, default 12) when segments are drawn.
Latents (clean and augmented) are cached in ``--cache`` keyed by the codec sha and file list.
Single-threaded.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.dsp.audio import Audio
from aecodec.genre.head import HeadConfig, audio_latent, segment_starts
from aecodec.genre.torch_head import GenreHead, save_classifier
from aecodec.model.registry import load_model
from aecodec.train.classifier import silence_latent
from aecodec.train.genre_aug import augment
from aecodec.train.genre_fit import Item, file_normalise, fit, silent_frames

RATE = 22050
EXCERPT_SECONDS = 40.0  # per track: the middle 40 s (the whole track if shorter)
AUG_SECONDS = 20.0  # per augmented copy: a random 20 s of the excerpt
EVAL_STEP = 1.68  # the base layer's quantizer step a default encode picks (0.5 kbps budget)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_rows(data: Path, labels: list[str] | None) -> list[tuple[Path, str, str]]:
    with open(data, newline="") as f:
        rows = [(data.parent / r["path"], r["label"], r["source"]) for r in csv.DictReader(f)]
    return [r for r in rows if labels is None or r[1] in labels]


def encode(rows: list[tuple[Path, str, str]], net, *, copies: int,
           cache: Path | None, seed: int) -> list[Item]:
    """Latent of the middle 40 s of every track and of ``copies`` augmented 20-s
    pieces of it; cached per file (keyed by its name, size and mtime and the settings) in
    ``cache``, so an interrupted or repeated run encodes each file once. The augmentation of a
    file is seeded by its name, whatever the order of the files."""
    items = []
    t0 = time.time()
    for i, (path, label, artist) in enumerate(rows):
        st = path.stat()
        key = hashlib.sha256(json.dumps([path.name, st.st_size, int(st.st_mtime), copies, seed,
                                         EXCERPT_SECONDS, AUG_SECONDS]).encode()).hexdigest()
        file = cache / f"{path.stem}-{key[:12]}.pt" if cache else None
        if file is not None and file.exists():
            stored = torch.load(file, weights_only=True)
            items.append(Item(path, label, artist, stored["clean"], stored["augs"]))
            continue
        rng = np.random.default_rng([seed, int(key[:8], 16)])
        x, rate = sf.read(str(path), dtype="float32")
        n = int(EXCERPT_SECONDS * rate)
        x = x[max(0, (len(x) - n) // 2):][:n]
        clean = torch.from_numpy(audio_latent(Audio(x[:, None], rate), net).copy())
        augs = []
        m = int(AUG_SECONDS * rate)
        for _ in range(copies):
            start = int(rng.integers(0, max(1, len(x) - m)))
            y = augment(x[start:start + m], rate=rate, rng=rng)
            augs.append(torch.from_numpy(audio_latent(Audio(y[:, None], rate), net).copy()))
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"clean": clean, "augs": augs}, file)
        items.append(Item(path, label, artist, clean, augs))
        if (i + 1) % 20 == 0:
            log(f"encoded {i + 1}/{len(rows)} ({time.time() - t0:.0f} s)")
    return items


def predict(head: GenreHead, z: torch.Tensor, *, step: torch.Tensor | None = None,
            file_norm: bool = False) -> torch.Tensor:
    """Segment probabilities ``[segments, labels]`` of one file's latent ``z [C, frames]``
    (``step [frames]``: its quantizer steps, when it is the coded latent)."""
    cfg = head.cfg
    starts = segment_starts(int(z.shape[1]), segment=cfg.segment, hop=cfg.hop)
    quiet = silent_frames(z, head.silence, threshold=cfg.silence_threshold, step=step)
    starts = [s for s in starts if quiet[s:s + cfg.segment].float().mean() < 0.5] or starts
    if file_norm:
        z = file_normalise(z, quiet)
    with torch.inference_mode():
        return torch.softmax(head(torch.stack([z[:, s:s + cfg.segment] for s in starts])), -1)


def coded(z: torch.Tensor) -> torch.Tensor:
    """The latent as the base layer of a ``.aec`` file holds it (step ``EVAL_STEP``)."""
    return torch.round(z / EVAL_STEP).clamp(-127, 127) * EVAL_STEP


def predictions(heads_items: list[tuple[GenreHead, list[Item]]], labels: list[str], *,
                file_norm: bool = False) -> list[dict]:
    """One row per test file: its artist, label, vote prediction, segments right / total."""
    rows = []
    for head, items in heads_items:
        for it in items:
            y = labels.index(it.label)
            p = predict(head, coded(it.clean), step=torch.full((it.clean.shape[1],), EVAL_STEP),
                        file_norm=file_norm)
            rows.append({"file": it.path.name, "artist": it.artist, "label": it.label,
                         "pred": labels[int(p.mean(0).argmax())],
                         "seg_right": int((p.argmax(1) == y).sum()), "segs": int(p.shape[0])})
    return rows


def summarize(rows: list[dict], labels: list[str]) -> dict:
    """Per-file (vote) and per-segment accuracy, per genre, confusion matrix (files)."""
    k = len(labels)
    conf = np.zeros((k, k), int)
    seg_right, seg_total = np.zeros(k), np.zeros(k)
    per_artist: dict[str, list[int]] = {}
    for r in rows:
        y, p = labels.index(r["label"]), labels.index(r["pred"])
        conf[y, p] += 1
        seg_right[y] += r["seg_right"]
        seg_total[y] += r["segs"]
        per_artist.setdefault(r["artist"], [0, 0])
        per_artist[r["artist"]][0] += int(y == p)
        per_artist[r["artist"]][1] += 1
    files = conf.sum(1)
    return {"file_accuracy": float(np.trace(conf) / max(1, conf.sum())),
            "segment_accuracy": float(seg_right.sum() / max(1, seg_total.sum())),
            "per_genre_file": {lab: float(conf[i, i] / max(1, files[i]))
                               for i, lab in enumerate(labels)},
            "per_genre_segment": {lab: float(seg_right[i] / max(1, seg_total[i]))
                                  for i, lab in enumerate(labels)},
            "mean_genre_file": float(np.mean([conf[i, i] / max(1, files[i]) for i in range(k)])),
            "files": int(conf.sum()), "confusion": conf.tolist(), "per_artist": per_artist,
            "wrong": [f"{r['file']} ({r['artist']}): {r['label']} -> {r['pred']}"
                      for r in rows if r["label"] != r["pred"]]}


def artist_folds(items: list[Item], folds: int) -> list[set[str]]:
    """Artist groups to hold out: one per fold (``folds`` 0: leave one artist out), or the
    artists dealt round robin into ``folds`` sets, sorted by (main genre, minutes), so that a
    fold takes at most one artist of a genre with ``folds`` artists or fewer."""
    minutes: dict[str, dict[str, float]] = {}
    for it in items:
        minutes.setdefault(it.artist, {}).setdefault(it.label, 0.0)
        minutes[it.artist][it.label] += it.minutes
    if folds <= 0:
        return [{a} for a in sorted(minutes)]
    order = sorted(minutes, key=lambda a: (max(minutes[a], key=minutes[a].get),
                                           -sum(minutes[a].values()), a))
    return [set(order[k::folds]) for k in range(folds)]


def near_duplicates(items: list[Item], *, threshold: float = 0.995) -> list[str]:
    """Pairs of tracks whose latent statistics (per-channel mean and std over the excerpt)
    correlate above ``threshold``: the same piece twice, found on the latent."""
    feats = torch.stack([torch.cat([it.clean.mean(1), it.clean.std(1)]) for it in items])
    feats = feats - feats.mean(1, keepdim=True)
    feats = feats / feats.norm(dim=1, keepdim=True)
    corr = feats @ feats.T
    out = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if float(corr[i, j]) > threshold:
                out.append(f"{items[i].path.name} ({items[i].artist}) ~ {items[j].path.name} "
                           f"({items[j].artist}): {float(corr[i, j]):.4f}")
    return out


def run_config(items: list[Item], labels: list[str], cfg: HeadConfig, *, name: str,
               silence: torch.Tensor, steps: int, cap_minutes: float, splits: int,
               folds: int, part: tuple[int, int] = (0, 1)) -> dict:
    opts = set(name.split("+"))
    kw = {"aug": "aug" in opts, "cap": cap_minutes if "cap" in opts else None,
          "file_norm": "norm" in opts}
    t0 = time.time()
    trained = []
    for n, held in enumerate(artist_folds(items, folds)):
        if n % part[1] != part[0]:
            continue
        train = [it for it in items if it.artist not in held]
        test = [it for it in items if it.artist in held]
        if {it.label for it in train} != set(labels):
            log(f"  skip fold {sorted(held)}: a genre would have no training artist")
            continue
        trained.append((fit(train, labels, cfg, silence=silence, steps=steps, seed=n, **kw),
                        test))
    rows = predictions(trained, labels, file_norm=kw["file_norm"])
    loao = summarize(rows, labels)
    loao["rows"] = rows
    loao["folds"] = len(trained)
    loao["seconds"] = time.time() - t0
    log(f"{name}: LOAO file {loao['file_accuracy']:.3f} (genre mean {loao['mean_genre_file']:.3f}) "
        f"segment {loao['segment_accuracy']:.3f}; {loao['per_genre_file']} ({loao['seconds']:.0f} s)")
    rng = np.random.default_rng(0)
    by_track = []
    for r in range(splits):
        test_idx = set()
        for lab in labels:
            idx = [i for i, it in enumerate(items) if it.label == lab]
            test_idx |= set(rng.choice(idx, max(1, round(0.2 * len(idx))), replace=False).tolist())
        train = [it for i, it in enumerate(items) if i not in test_idx]
        test = [it for i, it in enumerate(items) if i in test_idx]
        by_track.append((fit(train, labels, cfg, silence=silence, steps=steps, seed=100 + r, **kw),
                         test))
    track = summarize(predictions(by_track, labels, file_norm=kw["file_norm"]), labels)
    log(f"{name}: split-by-track file {track['file_accuracy']:.3f} segment {track['segment_accuracy']:.3f}")
    return {"config": name, "loao": loao, "by_track": {k: track[k] for k in
                                                         ("file_accuracy", "segment_accuracy", "per_genre_file")}}


def markdown(report: dict) -> str:
    """The leave-artists-out tables of a (merged) report, for docs/classification.md."""
    labels = report["labels"]
    out = ["| recipe | files | file accuracy (vote) | segment accuracy | "
           + " | ".join(f"{lab} (files)" for lab in labels) + " | split by track (file) |",
           "|---|---|---|---|" + "---|" * len(labels) + "---|"]
    for res in report["results"]:
        lo = res["loao"]
        out.append(f"| {res['config']} | {lo['files']} | **{lo['file_accuracy']:.3f}** | "
                   f"{lo['segment_accuracy']:.3f} | "
                   + " | ".join(f"{lo['per_genre_file'][lab]:.3f}" for lab in labels)
                   + f" | {res['by_track']['file_accuracy']:.3f} |")
    for res in report["results"]:
        lo = res["loao"]
        out += ["", f"Confusion matrix, `{res['config']}` (files; rows true, columns predicted):",
                "", "| true \\ predicted | " + " | ".join(labels) + " | segment accuracy |",
                "|---|" + "---|" * len(labels) + "---|"]
        for i, lab in enumerate(labels):
            out.append(f"| {lab} | " + " | ".join(str(v) for v in lo["confusion"][i])
                       + f" | {lo['per_genre_segment'][lab]:.3f} |")
        worst = sorted(((v[0] / v[1], a, v) for a, v in lo["per_artist"].items()))[:8]
        out += ["", "Held-out artists with the lowest file accuracy: " + "; ".join(
            f"{a} {v[0]}/{v[1]}" for _, a, v in worst) + "."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/genre_set/tracks.csv"))
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--labels", default="chiptune,electronic,orchestral,rock-metal")
    ap.add_argument("--configs", default="base,norm,aug,norm+aug")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--segment", type=int, default=64)
    ap.add_argument("--copies", type=int, default=1, help="augmented copies per track")
    ap.add_argument("--cap-minutes", type=float, default=12.0)
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--folds", type=int, default=0,
                    help="0: leave one artist out; K: K folds of held-out artists")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--part", default="0/1",
                    help="K/N: run only folds K, K+N, ... (run N processes, then --merge)")
    ap.add_argument("--merge", type=Path, nargs="*", default=None,
                    help="JSON reports of --part runs: print their folds summarised together")
    ap.add_argument("--ship", type=Path, default=None,
                    help="train the first config on every track and write the classifier "
                         "(<id>-<sha12>.pt) into this folder")
    ap.add_argument("--ship-steps", type=int, default=1500)
    ap.add_argument("--model-id", default="aecodec-genres")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    labels = sorted(args.labels.split(","))
    if args.merge:
        reports = [json.loads(p.read_text()) for p in args.merge]
        merged = dict(reports[0], parts=[str(p) for p in args.merge], results=[])
        for k, res in enumerate(reports[0]["results"]):
            rows = [r for rep in reports for r in rep["results"][k]["loao"]["rows"]]
            loao = summarize(rows, labels)
            loao.update(rows=rows, folds=sum(rep["results"][k]["loao"]["folds"] for rep in reports),
                        seconds=sum(rep["results"][k]["loao"]["seconds"] for rep in reports))
            merged["results"].append(dict(res, loao=loao))
            log(f"{res['config']}: LOAO file {loao['file_accuracy']:.3f} over {loao['files']} "
                f"files, {loao['folds']} folds; {loao['per_genre_file']}")
        if args.json:
            args.json.write_text(json.dumps(merged, indent=1))
        print(markdown(merged))
        return 0
    net, meta = load_model()
    rows = read_rows(args.data, labels)
    t0 = time.time()
    items = encode(rows, net, copies=args.copies, cache=args.cache, seed=0)
    log(f"{len(items)} tracks, {len({it.artist for it in items})} artists, "
        f"{sum(it.minutes for it in items):.0f} min; latents in {time.time() - t0:.0f} s")
    dups = near_duplicates(items)
    log(f"near duplicates on the latent (corr > 0.995): {len(dups)}")
    for d in dups:
        log(f"  {d}")
    silence = silence_latent(net)
    var = float(torch.cat([it.clean for it in items], dim=1).var(1).mean())
    cfg = HeadConfig(channels=net.cfg.latent, hidden=args.hidden, segment=args.segment,
                     hop=args.segment // 2, silence_threshold=round(0.02 * var, 6))
    shipped = None
    if args.ship is not None:
        name = args.configs.split(",")[0]
        opts = set(name.split("+"))
        t1 = time.time()
        head = fit(items, labels, cfg, file_norm="norm" in opts, silence=silence,
                   aug="aug" in opts, cap=args.cap_minutes if "cap" in opts else None,
                   steps=args.ship_steps, seed=0)
        wall = time.time() - t1
        minutes: dict[str, dict[str, float]] = {}
        for it in items:
            minutes.setdefault(it.label, {}).setdefault(it.artist, 0.0)
            minutes[it.label][it.artist] = round(minutes[it.label][it.artist] + it.minutes, 2)
        info = {"dataset": str(args.data), "recipe": name, "steps": args.ship_steps, "seed": 0,
                "cap_minutes": args.cap_minutes, "excerpt_seconds": EXCERPT_SECONDS,
                "aug_copies": args.copies, "tracks": len(items), "artists": minutes,
                "train_seconds": round(wall, 1), "command": " ".join(sys.argv)}
        shipped = save_classifier(head, args.ship, model_id=args.model_id, codec={
            "id": meta["model_id"], "sha256": meta["sha256"]}, info=info)
        log(f"wrote {shipped} (trained in {wall:.0f} s)")
    results = [run_config(items, labels, cfg, name=c, silence=silence, steps=args.steps,
                          cap_minutes=args.cap_minutes, splits=args.splits, folds=args.folds,
                          part=(int(args.part.split("/")[0]), int(args.part.split("/")[1])))
               for c in args.configs.split(",") if args.folds >= 0]
    report = {"labels": labels, "data": str(args.data), "steps": args.steps,
              "hidden": args.hidden, "segment": args.segment, "copies": args.copies,
              "cap_minutes": args.cap_minutes, "folds": args.folds, "codec": {"id": meta["model_id"], "sha256": meta["sha256"]},
              "tracks": len(items), "near_duplicates": dups, "results": results,
              "shipped": str(shipped) if shipped else None,
              "artists": sorted({it.artist for it in items})}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
