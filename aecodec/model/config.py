"""Model and STFT settings (plain dataclasses, no torch): stored inside every weights file and
shared by the torch reference nets and the numpy runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class StftConfig:
    """STFT settings of a model. Defaults: 22050 Hz, n_fft 1024, hop 256, Hann window."""

    rate: int = 22050
    n_fft: int = 1024
    hop: int = 256

    def __post_init__(self) -> None:
        if self.n_fft <= 0 or self.n_fft & (self.n_fft - 1):
            raise ValueError(f"StftConfig n_fft={self.n_fft} is not a positive power of two")
        if not 0 < self.hop <= self.n_fft // 2:
            raise ValueError(f"StftConfig hop={self.hop} not in 1..n_fft/2={self.n_fft // 2}")
        if self.rate <= 0:
            raise ValueError(f"StftConfig rate={self.rate} <= 0")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        """Number of STFT frames for ``samples`` samples."""
        return samples // self.hop + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
