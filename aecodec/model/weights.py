"""Shipped weights and resumable training checkpoints.

A weights file is a ``torch.save`` of plain dicts, tensors and strings, loaded with
``torch.load(weights_only=True)`` so no arbitrary object is ever unpickled::

    {"format": 1, "model_id": "aecodec-v1", "config": {...ModelConfig...},
     "state": {name: float16 tensor}, "info": {...how it was trained...}}

Its file name is ``<model_id>-<sha256[:12]>.pt``; loading recomputes the sha256 of the bytes
and refuses a file whose hash does not match its name (tampered or truncated).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import torch

from aecodec.errors import ModelError
from aecodec.format.hashed import HASH_CHARS, read_hashed, write_hashed
from aecodec.model.autoencoder import Autoencoder, ModelConfig

WEIGHTS_FORMAT = 1
DEFAULT_MODEL_ID = "aecodec-v1"


def model_dirs() -> list[Path]:
    """Where weights are looked for: ``$AECODEC_MODELS``, the repo's ``models/``, and
    ``<prefix>/share/aecodec/models`` (non-editable installs)."""
    dirs = []
    if os.environ.get("AECODEC_MODELS"):
        dirs.append(Path(os.environ["AECODEC_MODELS"]))
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    dirs.append(Path(sys.prefix) / "share" / "aecodec" / "models")
    return dirs


def save_weights(model: Autoencoder, out_dir: Path, *, model_id: str,
                 info: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/<model_id>-<sha12>.pt`` (float16 weights) and return its path."""
    blob = {"format": WEIGHTS_FORMAT, "model_id": model_id, "config": model.cfg.to_dict(),
            "state": {k: v.detach().to(torch.float16).cpu() for k, v in model.state_dict().items()},
            "info": info or {}}
    return save_hashed(blob, out_dir, model_id=model_id)


def save_hashed(blob: dict[str, Any], out_dir: Path, *, model_id: str) -> Path:
    """``torch.save`` a dict of plain values and tensors atomically as
    ``out_dir/<model_id>-<sha256[:12]>.pt`` (the name :func:`load_weights` verifies)."""
    buf = io.BytesIO()
    torch.save(blob, buf)
    return write_hashed(buf.getvalue(), out_dir, stem=model_id, suffix=".pt")


def load_weights(path: Path) -> tuple[Autoencoder, dict[str, Any]]:
    """Load and verify a weights file -> (model in eval mode on CPU, its whole blob minus state).

    Raises :class:`ModelError` if the file is missing, its hash does not match its name, or
    it is not a weights file of a known format.
    """
    path = Path(path)
    data, digest = read_hashed(path, what="model weights")
    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        if blob.get("format") != WEIGHTS_FORMAT:
            raise ModelError(f"{path}: weights format {blob.get('format')!r} unsupported")
        cfg = ModelConfig.from_dict(blob["config"])
        model = Autoencoder(cfg)
        model.load_state_dict({k: v.float() for k, v in blob["state"].items()})
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here means a bad weights file
        raise ModelError(f"{path}: not a valid aecodec weights file ({type(exc).__name__})") from None
    model.eval()
    meta = {k: v for k, v in blob.items() if k != "state"}
    meta["sha256"] = digest
    meta["path"] = str(path)
    return model, meta


def find_weights(model_id: str = DEFAULT_MODEL_ID, *, sha_prefix: str = "") -> Path:
    """The weights file for ``model_id`` (newest by name if several and no ``sha_prefix``)."""
    for d in model_dirs():
        hits = sorted(d.glob(f"{model_id}-{sha_prefix[:HASH_CHARS]}*.pt")) if d.is_dir() else []
        hits = [h for h in hits if h.stem.rsplit("-", 1)[0] == model_id]
        if hits:
            return hits[-1]
    where = ", ".join(str(d) for d in model_dirs())
    raise ModelError(f"model {model_id}{'@' + sha_prefix if sha_prefix else ''} not found in {where}")


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically write a resumable training checkpoint (model, optimizer, step, config)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_training_state(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)
