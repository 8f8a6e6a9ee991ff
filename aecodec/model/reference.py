"""The torch reference nets behind the numpy runtime's interface (needs torch: ``[train]``).

The codec pipeline calls its networks with numpy arrays (:class:`aecodec.model.np_nets
.NpAutoencoder`). :class:`TorchNet` wraps a torch :class:`~aecodec.model.autoencoder
.Autoencoder` with the same methods, so the whole pipeline can run on the torch nets: the
reference the tests compare the numpy nets against, and what a trainer evaluates a model
with before it is saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aecodec.model.autoencoder import Autoencoder
from aecodec.model.config import ModelConfig
from aecodec.model.npz_weights import load_npz
from aecodec.model.phaseinit import PhaseNet


class TorchPhase:
    """A torch ``PhaseNet`` called with and returning numpy: ``[B, bins, T]`` -> ``[B, 4, bins,
    T]``."""

    def __init__(self, net: PhaseNet) -> None:
        self.net = net

    def __call__(self, logmag: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.net(torch.from_numpy(np.ascontiguousarray(logmag, np.float32))).numpy()


class TorchNet:
    """``encode``/``decode`` of a torch autoencoder on numpy arrays (shapes as
    :class:`~aecodec.model.np_nets.NpAutoencoder`)."""

    def __init__(self, model: Autoencoder) -> None:
        self.model = model.eval()
        self.cfg: ModelConfig = model.cfg
        self.phase = TorchPhase(model.phase) if model.phase is not None else None
        self.log_scale = model.log_scale.detach().numpy()

    def encode(self, logmag: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(logmag, np.float32))
            return self.model.encode(x).numpy()

    def decode(self, latent: np.ndarray, *, step: np.ndarray | float,
               frames: int | None = None) -> np.ndarray:
        s = torch.from_numpy(np.asarray(step, np.float32))
        with torch.inference_mode():
            z = torch.from_numpy(np.ascontiguousarray(latent, np.float32))
            return self.model.decode(z, step=s, frames=frames).numpy()


def torch_model(state: dict[str, np.ndarray], config: dict[str, Any]) -> Autoencoder:
    """A torch :class:`Autoencoder` (float32, eval mode) from a state dict of arrays."""
    model = Autoencoder(ModelConfig.from_dict(config))
    model.load_state_dict({k: torch.from_numpy(np.array(v, np.float32)) for k, v in state.items()})
    return model.eval()


def load_reference(path: Path) -> tuple[TorchNet, dict[str, Any]]:
    """A ``.npz`` codec weights file as (torch reference net, header) - the same pair
    :func:`aecodec.codec.load_model` returns with the numpy net."""
    header, state = load_npz(path)
    return TorchNet(torch_model(state, header["config"])), header
