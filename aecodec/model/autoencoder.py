"""The convolutional autoencoder over log-magnitude spectrograms.

The spectrogram's frequency bins are the channels of 1-D convolutions over time: the encoder
maps ``[batch, bins, frames]`` to a latent ``[batch, latent, frames / down]`` (two stride-2
stages, ``down = 4``), the decoder maps a (quantized) latent back to log-magnitudes.
Normalisation: the network sees ``(ln(|X| + 1e-5) - center) / scale``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aecodec.dsp.np_spectral import LOG_EPS
from aecodec.model.config import ModelConfig, StftConfig
from aecodec.model.phaseinit import PhaseNet

__all__ = ["Autoencoder", "Decoder", "Encoder", "ModelConfig", "ResBlock", "StftConfig",
           "parameter_count", "training_forward"]


class ResBlock(nn.Module):
    """``x + conv(gelu(conv(gelu(x))))`` with dilated kernel-3 convolutions, ``[B, C, T]``."""

    def __init__(self, channels: int, *, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(F.gelu(x))))


def _blocks(cfg: ModelConfig) -> list[nn.Module]:
    return [ResBlock(cfg.hidden, dilation=3 ** i) for i in range(cfg.blocks)]


class Encoder(nn.Module):
    """Normalised log-magnitude ``[B, bins, T]`` -> latent ``[B, latent, T / down]``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h = cfg.hidden
        layers: list[nn.Module] = [nn.Conv1d(cfg.stft.bins, h, 3, padding=1), *_blocks(cfg)]
        for _ in range(cfg.stages):
            layers += [nn.GELU(), nn.Conv1d(h, h, 4, stride=2, padding=1), *_blocks(cfg)]
        layers += [nn.GELU(), nn.Conv1d(h, cfg.latent, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent ``[B, latent, Tl]`` -> normalised log-magnitude ``[B, bins, Tl * down]``.

    The quantizer step is an extra input channel (``ln step``, constant over time), so one
    decoder serves every operating point: it denoises coarse latents more than fine ones.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h = cfg.hidden
        layers: list[nn.Module] = [nn.Conv1d(cfg.latent + 1, h, 3, padding=1), *_blocks(cfg)]
        for _ in range(cfg.stages):
            layers += [nn.GELU(), nn.ConvTranspose1d(h, h, 4, stride=2, padding=1), *_blocks(cfg)]
        layers += [nn.GELU(), nn.Conv1d(h, cfg.stft.bins, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """``z [B, latent, Tl]``, ``step [B, 1, 1]`` or ``[B, 1, Tl]`` -> ``[B, bins, Tl * down]``."""
        cond = torch.log(step.to(z.dtype)).expand(z.shape[0], 1, z.shape[2])
        return self.net(torch.cat([z, cond], dim=1))


class Autoencoder(nn.Module):
    """Encoder + decoder + the per-channel Laplace scales of the latent's entropy model, and
    optionally the learned initial-phase net ``phase`` (``cfg.phase_channels > 0``)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.log_scale = nn.Parameter(torch.zeros(cfg.latent))
        self.phase = (PhaseNet(channels=cfg.phase_channels, center=cfg.center, scale=cfg.scale)
                      if cfg.phase_channels else None)

    def forward(self, logmag: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`training_forward` (so DistributedDataParallel sees the whole pass)."""
        return training_forward(self, logmag, step)

    def normalize(self, logmag: torch.Tensor) -> torch.Tensor:
        return (logmag - self.cfg.center) / self.cfg.scale

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.cfg.scale + self.cfg.center).clamp(min=float(torch.log(torch.tensor(LOG_EPS))))

    def encode(self, logmag: torch.Tensor) -> torch.Tensor:
        """ln-magnitude ``[B, bins, T]`` -> latent ``[B, latent, ceil(T / down)]``.

        ``T`` is padded (edge-replicated) up to a multiple of ``down``.
        """
        pad = (-logmag.shape[-1]) % self.cfg.down
        x = self.normalize(logmag)
        if pad:
            x = F.pad(x, (0, pad), mode="replicate")
        return self.encoder(x)

    def decode(self, latent: torch.Tensor, *, step: torch.Tensor | float,
               frames: int | None = None) -> torch.Tensor:
        """Dequantized latent ``[B, latent, Tl]`` with its quantizer ``step`` (float,
        ``[B, 1, 1]`` or per frame ``[B, 1, Tl]``) -> ln-magnitude ``[B, bins, frames or Tl * down]``."""
        step_t = torch.as_tensor(step, dtype=latent.dtype)
        if step_t.dim() != 3:  # a float, or one step per batch item
            step_t = step_t.reshape(-1, 1, 1)
        out = self.denormalize(self.decoder(latent, step_t))
        return out if frames is None else out[..., :frames]


def training_forward(model: Autoencoder, logmag: torch.Tensor,
                     step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Training pass: encode, add uniform noise of width ``step`` ``[B, 1, 1]`` (the
    quantization proxy), decode -> (ln-magnitude ``[B, bins, T]``, estimated bits ``[B]``)."""
    from aecodec.model.quant_noise import add_noise, laplace_bits
    noisy = add_noise(model.encode(logmag), step)
    recon = model.decode(noisy, step=step, frames=logmag.shape[-1])
    return recon, laplace_bits(noisy, step, model.log_scale).sum(dim=(1, 2))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
