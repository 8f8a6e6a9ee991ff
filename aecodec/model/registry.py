"""Finding and caching the shipped models: which weights code which bitrate, which weights a
file names, and the entropy tables fitted for them.

A process loads each weights file once (cached by path and modification time); every lookup
checks the sha256 prefix a ``.aec`` file names against the weights found. The networks run in
numpy (:class:`aecodec.model.np_nets.NpAutoencoder`): nothing here imports torch.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from aecodec.coding import ans
from aecodec.errors import ModelError
from aecodec.model.config import ModelConfig
from aecodec.model.np_nets import Net, NpAutoencoder
from aecodec.model.npz_weights import DEFAULT_MODEL_ID, find_npz, load_npz, model_dirs

Model = tuple[Net, dict[str, Any]]
"""A loaded model: the networks and their weights file's header (``model_id``, ``sha256`` - the
identity ``.aec`` files name -, ``config``, ``info``, ``path``)."""
DEFAULT_MODELS: tuple[tuple[float, str], ...] = ((math.inf, DEFAULT_MODEL_ID),)
"""``(up to kbps, model id)``: which shipped model codes which bitrates by default."""


@lru_cache(maxsize=4)
def _load_cached(path: Path, mtime: float) -> Model:
    header, state = load_npz(path)
    try:
        net = NpAutoencoder(ModelConfig.from_dict(header["config"]), state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: configuration and weights do not match ({exc})") from None
    return net, header


def load_model(model_id: str = DEFAULT_MODEL_ID, sha_prefix: str = "", *,
               path: Path | None = None) -> Model:
    """The model for ``model_id`` (or the weights file ``path``), cached per file.

    With ``sha_prefix``, the weights' sha256 must start with it (a ``.aec`` file names the exact
    weights it was made with).
    """
    if path is None:
        path = find_npz(model_id, sha_prefix=sha_prefix, dirs=model_dirs())
    path = Path(path).resolve()
    model, meta = _load_cached(path, path.stat().st_mtime if path.exists() else 0.0)
    if sha_prefix and not meta["sha256"].startswith(sha_prefix):
        raise ModelError(f"model {model_id}: weights sha256 {meta['sha256'][:12]} != {sha_prefix}")
    return model, meta


def default_model(kbps: float) -> Model:
    """The shipped model for a target bitrate (see ``DEFAULT_MODELS``)."""
    for limit, model_id in DEFAULT_MODELS:
        if kbps <= limit:
            return load_model(model_id)
    return load_model(DEFAULT_MODELS[-1][1])


def tables_for(model: Model) -> ans.Tables | None:
    """The entropy tables fitted for ``model``'s weights (None: the model has none)."""
    return ans.find_tables(model_sha=model[1]["sha256"], dirs=model_dirs())


def model_for(meta: dict[str, Any], *, name: str, model_path: Path | None = None) -> Net:
    """The model a validated file names, checked against the file's settings."""
    try:
        net, mmeta = load_model(meta["model"]["id"], meta["model"]["sha256"], path=model_path)
    except ModelError as exc:  # name the file that asked for the model
        raise ModelError(f"{name}: {exc}") from None
    if mmeta["model_id"] != meta["model"]["id"]:
        raise ModelError(f"{name}: needs model {meta['model']['id']}, got {mmeta['model_id']}")
    st = net.cfg.stft
    if (meta["model_rate"], meta["n_fft"], meta["hop"]) != (st.rate, st.n_fft, st.hop) or \
            meta["latent"] != [net.cfg.latent, -(-meta["frames"] // net.cfg.down)]:
        raise ModelError(f"{name}: STFT/latent settings do not match model {meta['model']['id']}")
    return net
