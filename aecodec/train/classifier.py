"""Training the genre head on a labelled dataset (the codec's encoder stays frozen).

A dataset is a folder with one sub-folder of audio per label (the GTZAN layout) or a CSV of
``path,label`` rows (header optional; paths relative to the CSV; optional ``source`` column
for leave-one-source-out evaluation and ``track`` column grouping clips of one track). The
validation split is by track, never by clip. Segments are cropped at random, classes sampled
uniformly, and three segments in four pass through real quantization at a random step
(log-uniform over the codec's whole ``STEP_MIN..STEP_MAX``) so audio and ``.aec`` files agree.
With a run folder, every step's loss and, every tenth of the run, the held-out accuracy go to
``RUN/log.csv`` and ``RUN/loss.png`` (:mod:`aecodec.train.log`; the model is the same bytes).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from aecodec.codec.ratecontrol import STEP_MAX, STEP_MIN
from aecodec.dsp.audio import AUDIO_SUFFIXES, Audio, read_audio
from aecodec.errors import InputError
from aecodec.genre.head import HeadConfig, audio_latent, segment_probs, silent_frames
from aecodec.genre.torch_head import GenreHead, as_numpy
from aecodec.model.np_nets import Net
from aecodec.train.log import LOG_NAME, TrainLog, finish

Log = Callable[[str], None]


@dataclass(frozen=True)
class Track:
    """One labelled file; ``group`` names its track (clips of one track share it)."""

    path: Path
    label: str
    source: str = ""
    group: str = ""


def find_dataset(data: Path) -> list[Track]:
    """Tracks of a folder-per-label dataset or a ``path,label[,source][,track]`` CSV."""
    if not data.exists():
        raise InputError(f"{data}: no such dataset folder or CSV")
    if data.is_dir():
        return [Track(p, d.name, d.name, str(p)) for d in sorted(data.iterdir())
                if d.is_dir() and not d.name.startswith(".")
                for p in sorted(d.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES]
    try:
        lines = data.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{data}: cannot read the dataset CSV ({exc})") from None
    rows = [(n, r) for n, r in enumerate(csv.reader(lines), start=1)
            if r and any(c.strip() for c in r)]
    head = [c.strip().lower() for c in rows[0][1]] if rows else []
    cols = {c: head.index(c) for c in ("path", "label", "source", "track") if c in head}
    if "path" in cols and "label" in cols:
        rows = rows[1:]
    else:
        cols = {"path": 0, "label": 1}
    tracks = []
    for n, row in rows:
        if len(row) <= max(cols.values()) or not all(row[i].strip() for i in cols.values()):
            raise InputError(f"{data}: line {n}: expected {','.join(cols)}, got {row!r}")
        get = {k: row[i].strip() for k, i in cols.items()}
        path = data.parent / get["path"]
        tracks.append(Track(path, get["label"], get.get("source", get["label"]),
                            get.get("track") or str(path)))
    return tracks


def check_dataset(tracks: list[Track], *, name: str, min_seconds: float,
                  log: Log) -> list[Track]:
    """Drop unreadable or too-short files (with a warning); refuse fewer than two labels or
    a label with no usable audio, before any training."""
    labels = sorted({t.label for t in tracks})
    if len(labels) < 2:
        raise InputError(f"{name}: needs at least two labels, found {len(labels)} "
                         f"({', '.join(labels) or 'none'})")
    usable = []
    for t in tracks:
        try:
            seconds = sf.info(str(t.path)).duration
        except Exception as exc:  # noqa: BLE001 - soundfile raises several kinds
            log(f"warning: {t.path}: skipped, not readable audio ({type(exc).__name__})")
            continue
        if seconds < min_seconds:
            log(f"warning: {t.path}: skipped, {seconds:.2f} s < {min_seconds:.2f} s")
            continue
        usable.append(t)
    for label in labels:
        if not any(t.label == label for t in usable):
            raise InputError(f"{name}: label {label!r} has no readable audio of at least "
                             f"{min_seconds:.2f} s")
    return usable


def split_by_track(tracks: list[Track], *, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, validation): per label, ``fraction`` of its track groups (at least one
    when it has two or more) are held out whole."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for label in sorted({t.label for t in tracks}):
        groups = sorted({t.group for t in tracks if t.label == label})
        order = [groups[i] for i in rng.permutation(len(groups))]
        k = 0 if fraction <= 0 or len(groups) < 2 else min(len(groups) - 1,
                                                             max(1, round(fraction * len(groups))))
        held = set(order[:k])
        for i, t in enumerate(tracks):
            if t.label == label:
                (val if t.group in held else train).append(i)
    return sorted(train), sorted(val)


def silence_latent(net: Net) -> torch.Tensor:
    """The codec's latent ``[C]`` of digital silence (a frame far from the edges)."""
    z = audio_latent(Audio(np.zeros((4 * net.cfg.stft.rate, 1), np.float32), net.cfg.stft.rate),
                     net)
    return torch.from_numpy(z[:, z.shape[1] // 2].copy())


def extract(tracks: list[Track], net: Net, *, log: Log) -> list[torch.Tensor | None]:
    """Latents ``[C, frames]`` of each track (None, with a warning, if it cannot be read)."""
    out: list[torch.Tensor | None] = []
    for i, t in enumerate(tracks):
        try:
            audio = read_audio(t.path)
        except InputError as exc:
            log(f"warning: skipped: {exc}")
            out.append(None)
            continue
        out.append(torch.from_numpy(audio_latent(audio, net).copy()))
        log(f"latent [{i + 1}/{len(tracks)}] {t.label}: {t.path.name} ({audio.duration:.0f} s)")
    return out


def train_head(latents: list[torch.Tensor], targets: list[int], labels: list[str],
               cfg: HeadConfig, *, silence: torch.Tensor, steps: int, seed: int,
               steps_q: tuple[float, float], batch: int = 64, lr: float = 2e-3,
               log: Log, tlog: TrainLog | None = None,
               heldout: tuple[list[torch.Tensor], list[int], list[str]] | None = None) -> GenreHead:
    """Fit a head on random segments of the training latents (classes sampled uniformly).

    ``tlog`` gets each step's loss and, with ``heldout`` (latents, targets, names), the held-out
    accuracies every tenth of the run (evaluation uses no random numbers: same head)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = GenreHead(cfg, labels)
    starts = []
    for z in latents:  # segment starts with at most half their frames silent
        quiet = torch.from_numpy(silent_frames(z.numpy(), silence.numpy(),
                                               threshold=cfg.silence_threshold)).float()
        frac = F.avg_pool1d(quiet[None, None], cfg.segment, stride=1)[0, 0]
        ok = torch.nonzero(frac < 0.5)[:, 0].numpy()
        starts.append(ok if ok.size else np.arange(z.shape[1] - cfg.segment + 1))
    allz = torch.cat(latents, dim=1)
    head.mean.copy_(allz.mean(1))
    head.std.copy_(allz.std(1).clamp_min(1e-3))
    head.silence.copy_(silence)
    by_class = [[i for i, y in enumerate(targets) if y == c] for c in range(len(labels))]
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    lo, hi = math.log(steps_q[0]), math.log(steps_q[1])
    head.train()
    for it in range(steps):
        cls = rng.integers(0, len(labels), batch)
        idx = [by_class[c][rng.integers(0, len(by_class[c]))] for c in cls]
        segs = torch.stack([latents[i][:, s:s + cfg.segment] for i in idx
                            for s in [int(rng.choice(starts[i]))]])
        step = torch.from_numpy(np.exp(rng.uniform(lo, hi, (batch, 1, 1)))).float()
        quant = torch.from_numpy(rng.random((batch, 1, 1)) < 0.75)
        segs = torch.where(quant, torch.round(segs / step).clamp(-127, 127) * step, segs)
        loss = F.cross_entropy(head(segs), torch.from_numpy(cls), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if tlog is not None:
            tlog.write(it + 1, {"loss": loss.item(), "lr": float(sched.get_last_lr()[0])})
        if (it + 1) % max(1, steps // 10) == 0 or it + 1 == steps:
            log(f"train step {it + 1}/{steps} loss {loss.item():.3f}")
            if tlog is not None and heldout is not None and heldout[0]:
                head.eval()
                rep = evaluate(head, heldout[0], heldout[1], names=heldout[2])
                tlog.write(it + 1, {k: float(rep[k])  # type: ignore[arg-type]
                                    for k in ("accuracy", "segment_accuracy")}, split="heldout")
                head.train()
    head.eval()
    return head


def evaluate(head: GenreHead, latents: list[torch.Tensor], targets: list[int], *,
             names: list[str]) -> dict[str, object]:
    """File-level (vote) and segment-level accuracy, and the file predictions."""
    preds, seg_right, seg_total = [], 0, 0
    runtime = as_numpy(head)  # the numpy head the files will be classified with
    for z, y, name in zip(latents, targets, names):
        p = segment_probs(runtime, z.numpy(), name=name)
        preds.append(int(p.mean(0).argmax()))
        seg_right += int((p.argmax(1) == y).sum())
        seg_total += int(p.shape[0])
    right = sum(int(p == y) for p, y in zip(preds, targets))
    return {"accuracy": right / max(1, len(targets)), "files": len(targets),
            "segment_accuracy": seg_right / max(1, seg_total), "segments": seg_total,
            "predictions": preds}


def train_classifier(data: Path, *, model: tuple[Net, dict], val_fraction: float = 0.2,
                     steps: int = 1500, seed: int = 0, hidden: int = 96,
                     log: Log = lambda _: None,
                     run_dir: Path | None = None) -> tuple[GenreHead, dict[str, object]]:
    """The whole recipe: find, check and encode the dataset, split by track, train, evaluate.

    Returns the head and an ``info`` dict (labels, split, held-out accuracy, settings).
    """
    net = model[0]
    st = net.cfg.stft
    frame_s = net.cfg.down * st.hop / st.rate
    cfg = HeadConfig(channels=net.cfg.latent, hidden=hidden)
    tracks = check_dataset(find_dataset(data), name=str(data),
                           min_seconds=cfg.segment * frame_s, log=log)
    got = extract(tracks, net, log=log)
    pairs = [(t, z) for t, z in zip(tracks, got) if z is not None and z.shape[1] >= cfg.segment]
    check_dataset([t for t, _ in pairs], name=str(data), min_seconds=0, log=log)
    tracks, latents = [t for t, _ in pairs], [z for _, z in pairs]
    labels = sorted({t.label for t in tracks})
    targets = [labels.index(t.label) for t in tracks]
    tr, va = split_by_track(tracks, fraction=val_fraction, seed=seed)
    silence = silence_latent(net)
    var = float(torch.cat([latents[i] for i in tr], dim=1).var(1).mean())
    cfg = replace(cfg, silence_threshold=round(0.02 * var, 6))
    q_range = (STEP_MIN, STEP_MAX)  # every step the codec's rate control may choose
    log(f"{len(tr)} training / {len(va)} held-out tracks, labels {', '.join(labels)}; "
        f"quantizer steps {q_range[0]:.3g}..{q_range[1]:.3g}")
    held = ([latents[i] for i in va], [targets[i] for i in va], [str(tracks[i].path) for i in va])
    tlog = TrainLog(run_dir / LOG_NAME) if run_dir is not None else None
    head = train_head([latents[i] for i in tr], [targets[i] for i in tr], labels, cfg,
                      silence=silence, steps=steps, seed=seed, steps_q=q_range, log=log,
                      tlog=tlog, heldout=held)
    if tlog is not None:
        finish(tlog, title=f"genre head: {steps} steps, {len(tr)} training tracks")
    info: dict[str, object] = {
        "dataset": str(data), "seed": seed, "steps": steps, "val_fraction": val_fraction,
        "train_tracks": len(tr), "quant_steps": list(q_range),
        "val_tracks": [str(tracks[i].path) for i in va]}
    if va:
        rep = evaluate(head, [latents[i] for i in va], [targets[i] for i in va],
                       names=[str(tracks[i].path) for i in va])
        info.update(val_accuracy=rep["accuracy"], val_segment_accuracy=rep["segment_accuracy"])
    return head, info
