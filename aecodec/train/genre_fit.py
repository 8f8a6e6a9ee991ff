"""Training the genre head on a multi-artist set: artist caps, augmented copies, file norm.

The set is a list of :class:`Item` (one per track: its label, its artist group, the latent of
an excerpt and of augmented copies of it, see ``scripts/genre_loao.py``). :func:`fit` draws
each training segment as: a genre uniformly; an artist of that genre with probability
proportional to its minutes, capped at ``cap`` minutes (so one prolific artist cannot stand for
a genre); a track of that artist by length; the clean latent or one of its augmented copies;
a start with at most half of the segment silent. Three segments in four are quantized at a
step drawn log-uniformly from rate control's range (``round(z / step) * step``: the codec at
any bitrate); with ``file_norm`` each segment is then normalised by its file's own per-channel
statistics (measured in docs/classification.md, and not shipped: it lost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aecodec.codec.ratecontrol import STEP_MAX, STEP_MIN
from aecodec.genre.head import HeadConfig
from aecodec.genre.torch_head import GenreHead

FRAME_SECONDS = 1024 / 22050  # one latent frame of the shipped codec


@dataclass
class Item:
    """One labelled track: ``clean`` latent ``[C, frames]`` and augmented ones ``augs``."""

    path: Path
    label: str
    artist: str
    clean: torch.Tensor
    augs: list[torch.Tensor] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        return self.clean.shape[1] * FRAME_SECONDS / 60


def silent_frames(latent: torch.Tensor, silence: torch.Tensor, *, threshold: float,
                  step: torch.Tensor | None = None) -> torch.Tensor:
    """Torch twin of :func:`aecodec.genre.head.silent_frames`: bool ``[frames]``."""
    ref = silence[:, None]
    if step is not None:
        ref = torch.round(ref / step[None]).clamp(-127, 127) * step[None]
    return ((latent - ref) ** 2).mean(0) < threshold


def file_normalise(latent: torch.Tensor, quiet: torch.Tensor) -> torch.Tensor:
    """``latent [C, frames]`` minus its per-channel mean over the frames not ``quiet
    [frames]``, over their std (all frames if fewer than 8 are loud). Measured, not shipped:
    see docs/classification.md."""
    ref = latent[:, ~quiet] if int((~quiet).sum()) >= 8 else latent
    return (latent - ref.mean(1, keepdim=True)) / ref.std(1, keepdim=True).clamp_min(1e-3)


def file_stats(z: torch.Tensor, silence: torch.Tensor, threshold: float,
               step: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std ``[C, 1]`` of ``z [C, frames]`` over its non-silent frames
    (the statistics :func:`file_normalise` uses)."""
    quiet = silent_frames(z, silence, threshold=threshold, step=step)
    ref = z[:, ~quiet] if int((~quiet).sum()) >= 8 else z
    return ref.mean(1, keepdim=True), ref.std(1, keepdim=True).clamp_min(1e-3)


def loud_starts(z: torch.Tensor, silence: torch.Tensor, cfg: HeadConfig) -> np.ndarray:
    """Segment starts of ``z [C, frames]`` with at most half their frames silent."""
    quiet = silent_frames(z, silence, threshold=cfg.silence_threshold).float()
    frac = F.avg_pool1d(quiet[None, None], cfg.segment, stride=1)[0, 0]
    ok = torch.nonzero(frac < 0.5)[:, 0].numpy()
    return ok if ok.size else np.arange(max(1, z.shape[1] - cfg.segment + 1))


def fit(items: list[Item], labels: list[str], cfg: HeadConfig, *, silence: torch.Tensor,
        aug: bool, cap: float | None, steps: int, seed: int, file_norm: bool = False,
        batch: int = 64, lr: float = 2e-3) -> GenreHead:
    """A head trained on ``items`` (see the module docstring); ``file_norm``: per-file
    normalisation (an experiment: the inference head does not do it). Deterministic for a
    given ``seed`` on one thread."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    versions = []
    for it in items:
        vs = [v for v in [it.clean] + (it.augs if aug else []) if v.shape[1] >= cfg.segment]
        versions.append([(v, loud_starts(v, silence, cfg),
                          file_stats(v, silence, cfg.silence_threshold)) for v in vs])
    head = GenreHead(cfg, labels)
    if not file_norm:
        allz = torch.cat([vs[0][0] for vs in versions], dim=1)
        head.mean.copy_(allz.mean(1))
        head.std.copy_(allz.std(1).clamp_min(1e-3))
    head.silence.copy_(silence)
    by_class = []
    for label in labels:
        idx = [i for i, it in enumerate(items) if it.label == label and versions[i]]
        artists = sorted({items[i].artist for i in idx})
        mins = {a: sum(items[i].minutes for i in idx if items[i].artist == a) for a in artists}
        w_art = np.array([min(mins[a], cap) if cap else mins[a] for a in artists])
        per_art = [[i for i in idx if items[i].artist == a] for a in artists]
        lens = [np.array([items[i].clean.shape[1] for i in tr], float) for tr in per_art]
        by_class.append((w_art / w_art.sum(), per_art, [w / w.sum() for w in lens]))
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    lo, hi = math.log(STEP_MIN), math.log(STEP_MAX)
    head.train()
    for _ in range(steps):
        cls = rng.integers(0, len(labels), batch)
        segs, means, stds = [], [], []
        for c in cls:
            w_art, per_art, w_tr = by_class[c]
            a = int(rng.choice(len(per_art), p=w_art))
            i = per_art[a][int(rng.choice(len(per_art[a]), p=w_tr[a]))]
            v, ok, (mu, sd) = versions[i][int(rng.integers(0, len(versions[i])))]
            s = int(rng.choice(ok))
            segs.append(v[:, s:s + cfg.segment])
            means.append(mu)
            stds.append(sd)
        x = torch.stack(segs)
        step = torch.from_numpy(np.exp(rng.uniform(lo, hi, (batch, 1, 1)))).float()
        quant = torch.from_numpy(rng.random((batch, 1, 1)) < 0.75)
        x = torch.where(quant, torch.round(x / step).clamp(-127, 127) * step, x)
        if file_norm:
            x = (x - torch.stack(means)) / torch.stack(stds)
        loss = F.cross_entropy(head(x), torch.from_numpy(cls), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    head.eval()
    return head
