"""Codec weights for torch (training and the reference nets), and resumable checkpoints.

Shipped weights are ``.npz`` files without pickle (:mod:`aecodec.model.npz_weights`, read by
the numpy runtime); this module writes them from a torch :class:`Autoencoder` (float16
weights) and reads them back into one. Training checkpoints (model, optimizer, step) stay
``torch.save`` files, loaded ``weights_only``: they are never shipped. Needs torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aecodec.model.autoencoder import Autoencoder
from aecodec.model.npz_weights import (
    DEFAULT_MODEL_ID,
    WEIGHTS_KIND,
    find_npz,
    load_npz,
    model_dirs,
    save_npz,
)
from aecodec.model.reference import torch_model

__all__ = ["DEFAULT_MODEL_ID", "find_weights", "load_training_state", "load_weights",
           "model_dirs", "save_training_state", "save_weights"]


def save_weights(model: Autoencoder, out_dir: Path, *, model_id: str,
                 info: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/<model_id>-<sha12>.npz`` (float16 weights) and return its path."""
    state = {k: v.detach().to(torch.float16).cpu().numpy() for k, v in model.state_dict().items()}
    header = {"kind": WEIGHTS_KIND, "model_id": model_id, "config": model.cfg.to_dict(),
              "info": info or {}}
    return save_npz(header, state, out_dir, model_id=model_id)


def load_weights(path: Path) -> tuple[Autoencoder, dict[str, Any]]:
    """Load and verify a ``.npz`` weights file -> (torch model in eval mode on CPU, its header
    with ``sha256``, ``file_sha256`` and ``path``).

    :class:`~aecodec.errors.ModelError` if it is missing, its hash does not match its name, or
    its configuration and weights do not fit together.
    """
    header, state = load_npz(Path(path))
    try:
        model = torch_model({k: np.asarray(v, np.float32) for k, v in state.items()},
                            header["config"])
    except Exception as exc:  # noqa: BLE001 - config and weights that do not fit together
        from aecodec.errors import ModelError
        raise ModelError(f"{path}: not a valid aecodec weights file ({type(exc).__name__})"
                         ) from None
    return model, header


def find_weights(model_id: str = DEFAULT_MODEL_ID, *, sha_prefix: str = "") -> Path:
    """The weights file for ``model_id`` whose identity starts with ``sha_prefix``
    (:func:`aecodec.model.npz_weights.find_npz` over :func:`model_dirs`)."""
    return find_npz(model_id, sha_prefix=sha_prefix, dirs=model_dirs())


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically write a resumable training checkpoint (model, optimizer, step, config)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_training_state(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)
