"""The genre head in torch, for training (needs torch: ``[train]``), and its weights file.

Same architecture as the numpy runtime head (:class:`aecodec.model.np_nets.NpGenreHead`,
loaded by :func:`aecodec.genre.head.load_classifier`); :func:`save_classifier` writes the
``.npz`` file that one reads, :func:`as_numpy` gives the runtime head of a trained one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aecodec.genre.head import HeadConfig
from aecodec.model.np_nets import NpGenreHead
from aecodec.model.npz_weights import CLASSIFIER_KIND, save_npz


class GenreHead(nn.Module):
    """Latent segments ``[B, channels, frames]`` -> label logits ``[B, labels]``.

    Buffers: per-channel ``mean``/``std`` of the training latents (input normalisation) and
    the codec's latent of digital ``silence``.
    """

    mean: torch.Tensor
    std: torch.Tensor
    silence: torch.Tensor

    def __init__(self, cfg: HeadConfig, labels: list[str]) -> None:
        super().__init__()
        self.cfg, self.labels = cfg, list(labels)
        self.register_buffer("mean", torch.zeros(cfg.channels))
        self.register_buffer("std", torch.ones(cfg.channels))
        self.register_buffer("silence", torch.zeros(cfg.channels))
        self.conv1 = nn.Conv1d(cfg.channels, cfg.hidden, 1)
        self.conv2 = nn.Conv1d(cfg.hidden, cfg.hidden, 3, padding=2, dilation=2)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, len(labels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = (z - self.mean[:, None]) / self.std[:, None]
        h = F.gelu(self.conv2(F.gelu(self.conv1(x))))
        pooled = torch.cat([h.mean(-1), h.std(-1)], dim=1)
        return self.out(self.drop(pooled))


def _state(head: GenreHead) -> dict[str, Any]:
    return {k: v.detach().float().cpu().numpy() for k, v in head.state_dict().items()}


def save_classifier(head: GenreHead, out_dir: Path, *, model_id: str, codec: dict[str, str],
                    info: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/<model_id>-<sha12>.npz`` (float32 weights) and return its path."""
    header = {"kind": CLASSIFIER_KIND, "model_id": model_id, "labels": list(head.labels),
              "config": head.cfg.to_dict(), "codec": dict(codec), "info": info or {}}
    return save_npz(header, _state(head), out_dir, model_id=model_id)


def as_numpy(head: GenreHead) -> NpGenreHead:
    """The numpy runtime head with ``head``'s current weights."""
    return NpGenreHead(head.cfg, head.labels, _state(head))
