"""Model settings (a plain dataclass, no torch): stored inside every weights file and shared by
the torch reference nets and the numpy runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aecodec.dsp.np_spectral import StftConfig

__all__ = ["ModelConfig", "StftConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and front-end settings; stored inside every weights file.

    Defaults: 22050 Hz, n_fft 1024 / hop 256, hidden 192 channels, 64 latent channels,
    time downsampling 4 (latent at ~21.5 frames/s).
    """

    stft: StftConfig = field(default_factory=StftConfig)
    hidden: int = 192
    latent: int = 64
    stages: int = 2
    blocks: int = 2
    center: float = -4.0
    scale: float = 3.0
    phase_channels: int = 0
    """Feature maps of the learned initial-phase net (:mod:`aecodec.model.phaseinit`); 0:
    none, Griffin-Lim starts from random phase."""
    decode_iters: int = 32
    """Griffin-Lim iterations a decoder runs by default with this model."""

    @property
    def down(self) -> int:
        """Time downsampling factor between STFT frames and latent frames."""
        return 2 ** self.stages

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        d["stft"] = StftConfig(**d["stft"])
        return cls(**d)
