#!/usr/bin/env python3
"""Evaluate a genre classifier on the labelled sources (see docs/classification.md).

    python scripts/eval_classifier.py [--data /work/data/genres/tracks.csv] [--model PATH]
        [--png docs/classification-confusion.png] [--json runs/classify-eval.json]
        [--doc docs/classification.md]

1. Split by track: the classifier's own held-out tracks (stored in the model file): track-level
   (vote over segments) and segment-level accuracy, per-class precision/recall, confusion
   matrix PNG; plus ``--repeats`` fresh models trained on other random track splits.
2. Leave-one-source-out, for each label with two or more sources: train a fresh head on every
   other track (same recipe and settings), test on the left-out source's tracks.
3. Audio vs ``.aec`` agreement: each held-out track encoded at 3, 6 and 12 kbps with
   ``aecodec.codec.encode.encode_audio``, read back as bytes, classified from its dequantized latent.

Single-threaded (``torch.set_num_threads(1)``). With ``--cache DIR`` the latents are kept in
``DIR/genre-latents-<codec sha12>-<hash of the files' names, sizes, mtimes>.pt``, so a
different codec model or changed data never reuses them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.codec.decode import decode_latent
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import Audio, read_audio
from aecodec.errors import InputError
from aecodec.format.container import unpack
from aecodec.genre.head import find_classifier, load_classifier, segment_probs
from aecodec.genre.torch_head import GenreHead, as_numpy
from aecodec.model.registry import load_model
from aecodec.train.classifier import (
    Track,
    extract,
    find_dataset,
    silence_latent,
    split_by_track,
    train_head,
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def confusion(truth: list[int], pred: list[int], k: int) -> np.ndarray:
    m = np.zeros((k, k), dtype=int)
    for t, p in zip(truth, pred):
        m[t, p] += 1
    return m


def file_preds(head: GenreHead, latents: list[torch.Tensor], names: list[str]) -> tuple[
        list[int], list[tuple[int, int]]]:
    """Vote label per file and (right-label index, segment count) per file's segments."""
    preds, segs = [], []
    runtime = as_numpy(head)
    for z, name in zip(latents, names):
        p = segment_probs(runtime, z.numpy(), name=name)
        preds.append(int(p.mean(0).argmax()))
        segs.append((p.argmax(1).tolist(), int(p.shape[0])))
    return preds, segs  # type: ignore[return-value]


def seg_accuracy(segs: list, truth: list[int]) -> float:
    right = sum(sum(int(s == t) for s in seg) for (seg, _), t in zip(segs, truth))
    return right / max(1, sum(n for _, n in segs))


def plot_confusion(m: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=120)
    ax.imshow(m / np.maximum(1, m.sum(1, keepdims=True)), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center",
                    color="white" if m[i, j] > m[i].sum() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def markdown(r: dict) -> str:
    """The results section of docs/classification.md."""
    labels, sp = r["labels"], r["split"]
    out = [(f"Classifier `{Path(r['model']).name}` on codec `{r['codec']['id']}` "
           f"(sha256 `{r['codec']['sha256'][:12]}`); data `{r['data']}`."), "",
           "**Split by track** (the shipped model, on the held-out tracks stored in it):", "",
           "| held-out tracks | track accuracy (vote) | segment accuracy (one 2.97-s segment) |",
           "|---|---|---|",
           f"| {sp['tracks']} | {sp['accuracy']:.3f} | {sp['segment_accuracy']:.3f} |"]
    for rep in r["split_repeats"]:
        out.append(f"| {sp['tracks']} (other split, seed {rep['seed']}) | {rep['accuracy']:.3f} "
                   f"| {rep['segment_accuracy']:.3f} |")
    accs = [sp["accuracy"]] + [x["accuracy"] for x in r["split_repeats"]]
    segs = [sp["segment_accuracy"]] + [x["segment_accuracy"] for x in r["split_repeats"]]
    out += [f"| mean of {len(accs)} splits | {np.mean(accs):.3f} | {np.mean(segs):.3f} |", "",
            ("Per class, shipped model on its held-out tracks (confusion matrix: "
            "[classification-confusion.png](classification-confusion.png); rows true, "
            "columns predicted):"), "",
            "| class | precision | recall | " + " | ".join(labels) + " |",
            "|---|---|---|" + "---|" * len(labels)]
    for k, lab in enumerate(labels):
        row = " | ".join(str(v) for v in sp["confusion"][k])
        out.append(f"| {lab} | {sp['precision'][lab]:.2f} | {sp['recall'][lab]:.2f} | {row} |")
    if sp["errors"]:
        out += ["", "Misclassified held-out tracks: " + "; ".join(
            f"`{Path(n).name}` ({t} -> {p})" for n, t, p in sp["errors"]) + "."]
    out += ["", ("**Leave one source out** (train on every other track, test on the left-out "
            "source's tracks):"), "",
            ("| label | left-out source | tracks | track accuracy | segment accuracy | "
            "predicted as |"), "|---|---|---|---|---|---|"]
    for x in r["leave_one_source_out"]:
        pred = ", ".join(f"{k} {v}" for k, v in x["predicted"].items() if v)
        out.append(f"| {x['label']} | {x['source']} | {x['tracks']} | {x['accuracy']:.3f} | "
                   f"{x['segment_accuracy']:.3f} | {pred} |")
    out += ["", ("**Audio vs `.aec`** (each file encoded with `encode_audio`, classified from "
            "its dequantized latent, compared with classifying the audio):"), "",
            ("| files | kbps asked | actual kbps | agreement | accuracy (.aec) | "
            "accuracy (audio) |"), "|---|---|---|---|---|---|"]
    for what, rows in r["aec_agreement"].items():
        for kbps, x in rows.items():
            out.append(f"| {x['files']} {what} | {kbps} | {x['actual_kbps']:.2f} | "
                       f"{x['agreement']:.3f} | {x['accuracy_aec']:.3f} | "
                       f"{x['accuracy_audio']:.3f} |")
    out += ["", f"Evaluation took {r['seconds'] / 60:.1f} min on one CPU thread."]
    return "\n".join(out)


def update_doc(doc: Path, report: dict) -> None:
    """Replace the text between the results markers of ``doc``."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: lacks the {BEGIN} ... {END} markers")
    before, rest = text.split(BEGIN, 1)
    doc.write_text(f"{before}{BEGIN}\n{markdown(report)}\n{END}{rest.split(END, 1)[1]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/work/data/genres/tracks.csv"))
    ap.add_argument("--model", default=None, help="classifier [default: the shipped one]")
    ap.add_argument("--png", type=Path, default=Path("docs/classification-confusion.png"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=4, help="extra random track splits")
    ap.add_argument("--kbps", default="3,6,12")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--doc", type=Path, default=None,
                    help="rewrite the results section of this markdown file "
                         "(docs/classification.md)")
    ap.add_argument("--render", type=Path, default=None,
                    help="only rewrite --doc from a JSON report written earlier by --json")
    args = ap.parse_args(argv)
    if args.render:
        if not args.doc:
            ap.error("--render needs --doc")
        update_doc(args.doc, json.loads(args.render.read_text()))
        return 0
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    head, meta = load_classifier(find_classifier(args.model))
    codec = load_model(meta["codec"]["id"], meta["codec"]["sha256"][:12])
    info, labels, cfg = meta["info"], head.labels, head.cfg
    tracks: list[Track] = find_dataset(args.data)
    stamp = hashlib.sha256(repr([(str(t.path), t.path.stat().st_size, t.path.stat().st_mtime)
                                 for t in tracks]).encode()).hexdigest()[:8]
    cache = (args.cache / f"genre-latents-{codec[1]['sha256'][:12]}-{stamp}.pt"
             if args.cache else None)
    if cache is not None and cache.exists():
        stored = torch.load(cache, weights_only=True)
        latents = [stored[str(t.path)] for t in tracks]
    else:
        got = extract(tracks, codec[0], log=lambda _: None)
        latents = [z for z in got if z is not None]
        if len(latents) != len(tracks):
            raise SystemExit("some tracks could not be read")
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save({str(t.path): z for t, z in zip(tracks, latents)}, cache)
    log(f"[{time.perf_counter() - t0:.0f} s] latents of {len(tracks)} tracks")
    truth = [labels.index(t.label) for t in tracks]
    names = [str(t.path) for t in tracks]
    report: dict[str, object] = {"model": meta["path"], "codec": meta["codec"],
                                 "labels": labels, "data": str(args.data)}

    # 1. split by track: the shipped model on its own held-out tracks
    val = [i for i, t in enumerate(tracks) if str(t.path) in set(info["val_tracks"])]
    preds, segs = file_preds(head, [latents[i] for i in val], [names[i] for i in val])
    vt = [truth[i] for i in val]
    m = confusion(vt, preds, len(labels))
    prec = {lab: float(m[k, k] / max(1, m[:, k].sum())) for k, lab in enumerate(labels)}
    rec = {lab: float(m[k, k] / max(1, m[k].sum())) for k, lab in enumerate(labels)}
    acc = float(np.trace(m) / m.sum())
    report["split"] = {"tracks": len(val), "accuracy": acc,
                       "segment_accuracy": seg_accuracy(segs, vt), "precision": prec,
                       "recall": rec, "confusion": m.tolist(),
                       "errors": [(names[i], labels[truth[i]], labels[p])
                                  for i, p in zip(val, preds) if p != truth[i]]}
    if args.png:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        plot_confusion(m, labels, args.png, f"{Path(meta['path']).name}: {len(val)} held-out "
                       f"tracks, accuracy {acc:.2f}")
    log(f"[{time.perf_counter() - t0:.0f} s] split by track: {acc:.3f}")
    silence = silence_latent(codec[0])
    q_range = tuple(info["quant_steps"])
    steps, seed = int(info["steps"]), int(info["seed"])

    def fit(train: list[int], seed: int) -> GenreHead:
        return train_head([latents[i] for i in train], [truth[i] for i in train], labels, cfg,
                          silence=silence, steps=steps, seed=seed, steps_q=q_range,
                          log=lambda _: None)

    repeats = []
    for r in range(1, args.repeats + 1):
        tr, va = split_by_track(tracks, fraction=float(info["val_fraction"]), seed=seed + r)
        h = fit(tr, seed + r)
        p, s = file_preds(h, [latents[i] for i in va], [names[i] for i in va])
        t = [truth[i] for i in va]
        repeats.append({"seed": seed + r, "accuracy": float(np.mean(np.array(p) == t)),
                        "segment_accuracy": seg_accuracy(s, t)})
        log(f"[{time.perf_counter() - t0:.0f} s] split seed {seed + r}: {repeats[-1]}")
    report["split_repeats"] = repeats

    # 2. leave one source out
    loso = []
    for label in labels:
        sources = sorted({t.source for t in tracks if t.label == label})
        for src in sources if len(sources) > 1 else []:
            test = [i for i, t in enumerate(tracks) if t.source == src]
            h = fit([i for i in range(len(tracks)) if i not in set(test)], seed)
            p, s = file_preds(h, [latents[i] for i in test], [names[i] for i in test])
            t = [truth[i] for i in test]
            got_labels = [labels[k] for k in p]
            loso.append({"label": label, "source": src, "tracks": len(test),
                         "accuracy": float(np.mean(np.array(p) == t)),
                         "segment_accuracy": seg_accuracy(s, t),
                         "predicted": {lab: got_labels.count(lab) for lab in labels}})
            log(f"[{time.perf_counter() - t0:.0f} s] leave out {src}: {loso[-1]}")
    report["leave_one_source_out"] = loso

    # 3. audio vs .aec agreement: the held-out tracks whole, and a 30-s clip of every track
    def classify_aec(audio: Audio, kbps: float, name: str) -> tuple[int, float]:
        data = encode_audio(audio, kbps=kbps, model=codec).to_bytes()
        z, zsteps = decode_latent(unpack(data, name=name), name=name, net=codec[0])
        probs = segment_probs(head, z, name=name, step=zsteps).mean(0)
        return int(probs.argmax()), len(data) * 8 / audio.duration / 1000

    def audio_as_coded(audio: Audio, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        data = encode_audio(audio, kbps=6.0, model=codec, enhance=False).to_bytes()
        z, zsteps = decode_latent(unpack(data, name=name), name=name, net=codec[0])
        return torch.from_numpy(z), torch.from_numpy(zsteps)

    def clip(i: int) -> Audio:
        a = read_audio(tracks[i].path)
        start = min(30 * a.rate, a.frames - 30 * a.rate)
        return Audio(a.samples[start:start + 30 * a.rate], a.rate)

    sets = {"held-out tracks": [(i, read_audio(tracks[i].path)) for i in val],
            "30-s clips of all tracks": [(i, clip(i)) for i in range(len(tracks))]}
    agree: dict[str, dict[str, dict[str, float]]] = {}
    for what, items in sets.items():
        wav, kept = [], []
        for i, a in items:
            try:
                # the product's audio path: the base-layer latent a default encode stores
                z, zsteps = audio_as_coded(a, names[i])
                probs = segment_probs(head, z.numpy(), name=names[i], step=zsteps.numpy())
            except InputError as exc:  # e.g. a silent stretch in a clip
                log(f"skipped: {exc}")
                continue
            wav.append(int(probs.mean(0).argmax()))
            kept.append((i, a))
        items = kept
        agree[what] = {}
        for kbps in [float(k) for k in args.kbps.split(",")]:
            res = [classify_aec(a, kbps, names[i]) for i, a in items]
            agree[what][f"{kbps:g}"] = {
                "files": len(items),
                "agreement": float(np.mean([g == w for (g, _), w in zip(res, wav)])),
                "accuracy_aec": float(np.mean([g == truth[i] for (g, _), (i, _) in zip(res, items)])),
                "accuracy_audio": float(np.mean([w == truth[i] for w, (i, _) in zip(wav, items)])),
                "actual_kbps": float(np.mean([k for _, k in res]))}
            log(f"[{time.perf_counter() - t0:.0f} s] {what} {kbps:g} kbps: "
                f"{agree[what][f'{kbps:g}']}")
    report["aec_agreement"] = agree
    report["seconds"] = time.perf_counter() - t0
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    if args.doc:
        update_doc(args.doc, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
