"""The shipped networks' inference in numpy (float32): autoencoder and genre head.

Same architectures and arithmetic as the torch reference nets (:mod:`aecodec.model.autoencoder`,
:mod:`aecodec.classify.genre`), built from their state dicts (``{name: array}``, torch's
parameter names and layouts). Activations are channels-last inside (:mod:`.np_layers`); the
public methods take and return torch's ``[batch, channels, frames]`` layout.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from aecodec.dsp.np_spectral import LOG_EPS
from aecodec.model.config import ModelConfig
from aecodec.model.np_layers import Conv1d, ConvTranspose1d, Linear, gelu
from aecodec.model.np_phaseinit import NpPhaseNet

_F32 = np.float32
State = Mapping[str, np.ndarray]


class Layer(Protocol):
    """One step of a stack: channels-last activations in, out (a layer record or ``gelu``)."""

    def __call__(self, x: np.ndarray, /) -> np.ndarray: ...


class Net(Protocol):
    """What the codec pipeline needs of a model's networks (numpy in, numpy out):
    :class:`NpAutoencoder`, or the torch reference behind :class:`aecodec.model.reference
    .TorchNet`."""

    cfg: ModelConfig
    phase: Callable[[np.ndarray], np.ndarray] | None
    """``[B, bins, T]`` ln-magnitudes -> ``[B, 4, bins, T]`` phase-derivative vectors."""

    def encode(self, logmag: np.ndarray) -> np.ndarray: ...

    def decode(self, latent: np.ndarray, *, step: np.ndarray | float,
               frames: int | None = None) -> np.ndarray: ...


def _param(state: State, name: str, *, cast: bool = True) -> np.ndarray:
    """``state[name]`` as float32 (``cast=False``: as stored, for a layer that rearranges and
    casts it in one copy); KeyError naming a missing parameter."""
    try:
        return np.asarray(state[name], _F32) if cast else np.asarray(state[name])
    except KeyError:
        raise KeyError(f"weights lack {name!r}") from None


class _ResBlock(NamedTuple):
    """``x + conv2(gelu(conv1(gelu(x))))``, channels-last ``[B, T, C]``."""

    conv1: Conv1d
    conv2: Conv1d

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x + self.conv2(gelu(self.conv1(gelu(x))))


def _conv(state: State, prefix: str, **kw: int) -> Conv1d:
    return Conv1d.from_torch(_param(state, prefix + ".weight", cast=False),
                             _param(state, prefix + ".bias"), **kw)


Spec = tuple[str, str, dict[str, int]]
"""One entry of a stack: ``(kind, parameter prefix, options)``, kind ``"conv"``, ``"block"``
(a residual block; option ``dilation``), ``"up"`` (transposed conv) or ``"gelu"``."""


def _specs(cfg: ModelConfig, prefix: str, *, up: bool) -> list[Spec]:
    """The ``nn.Sequential`` of an encoder (``up=False``) or decoder, index by index."""
    specs: list[Spec] = [("conv", f"{prefix}.0", {"padding": 1})]
    i = 1

    def blocks() -> None:
        nonlocal i
        for b in range(cfg.blocks):
            specs.append(("block", f"{prefix}.{i}", {"dilation": 3 ** b}))
            i += 1

    blocks()
    for _ in range(cfg.stages):
        specs.append(("gelu", "", {}))
        specs.append(("up", f"{prefix}.{i + 1}", {}) if up else
                     ("conv", f"{prefix}.{i + 1}", {"stride": 2, "padding": 1}))
        i += 2
        blocks()
    specs.append(("gelu", "", {}))
    specs.append(("conv", f"{prefix}.{i + 1}", {"padding": 1}))
    return specs


def _layer(spec: Spec, state: State) -> Layer:
    kind, name, kw = spec
    if kind == "gelu":
        return gelu
    if kind == "block":
        d = kw["dilation"]
        return _ResBlock(_conv(state, f"{name}.conv1", padding=d, dilation=d),
                         _conv(state, f"{name}.conv2"))
    if kind == "up":
        return ConvTranspose1d.from_torch(_param(state, f"{name}.weight", cast=False),
                                          _param(state, f"{name}.bias"), stride=2, padding=1)
    return _conv(state, name, **kw)


def _check(specs: Sequence[Spec], state: State, *, first: int, last: int) -> None:
    """ValueError/KeyError unless ``state`` holds every parameter of ``specs`` as a 3-D weight
    and 1-D bias, the first layer taking ``first`` channels and the last giving ``last``."""
    for kind, name, _ in specs:
        for p in ((f"{name}.conv1", f"{name}.conv2") if kind == "block" else
                  () if kind == "gelu" else (name,)):
            w, b = (np.shape(_param(state, f"{p}.{x}", cast=False)) for x in ("weight", "bias"))
            if len(w) != 3 or len(b) != 1:
                raise ValueError(f"{p}: weight {w} / bias {b} are not a 1-D convolution's")
    head = specs[0][1]
    if np.shape(state[f"{head}.weight"])[1] != first:
        raise ValueError(f"{head}: input layer does not take {first} channels")
    tail = specs[-1][1]
    if np.shape(state[f"{tail}.bias"])[0] != last:
        raise ValueError(f"{tail}: output layer does not give {last} channels")


def _run(layers: Sequence[Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer(x)
    return x


class NpAutoencoder:
    """Encoder, decoder and (optional) initial-phase net of a codec model, numpy inference.

    ``cfg``: the model's :class:`ModelConfig`; ``state``: its state dict (any float dtype).
    Every parameter is checked here; each network's float32 layers are built on its first use
    (a decoding process never builds the encoder).
    """

    def __init__(self, cfg: ModelConfig, state: State) -> None:
        self.cfg = cfg
        self._state = state
        bins = cfg.stft.bins
        self._specs = {"encoder": _specs(cfg, "encoder.net", up=False),
                       "decoder": _specs(cfg, "decoder.net", up=True)}
        _check(self._specs["encoder"], state, first=bins, last=cfg.latent)
        _check(self._specs["decoder"], state, first=cfg.latent + 1, last=bins)
        self.log_scale = _param(state, "log_scale")
        self.phase = (NpPhaseNet.from_state(state, prefix="phase.", center=cfg.center,
                                            scale=cfg.scale) if cfg.phase_channels else None)
        self._floor = _F32(np.log(_F32(LOG_EPS)))

    @functools.cached_property
    def encoder(self) -> list[Layer]:
        """The encoder's layers (built on first use)."""
        return [_layer(s, self._state) for s in self._specs["encoder"]]

    @functools.cached_property
    def decoder(self) -> list[Layer]:
        """The decoder's layers (built on first use)."""
        return [_layer(s, self._state) for s in self._specs["decoder"]]

    def normalize(self, logmag: np.ndarray) -> np.ndarray:
        return (logmag - _F32(self.cfg.center)) / _F32(self.cfg.scale)

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x * _F32(self.cfg.scale) + _F32(self.cfg.center), self._floor)

    def encode(self, logmag: np.ndarray) -> np.ndarray:
        """ln-magnitude ``[B, bins, T]`` -> latent ``[B, latent, ceil(T / down)]`` float32
        (``T`` edge-padded up to a multiple of ``down``)."""
        x = self.normalize(np.asarray(logmag, _F32)).transpose(0, 2, 1)
        pad = (-x.shape[1]) % self.cfg.down
        if pad:
            x = np.pad(x, ((0, 0), (0, pad), (0, 0)), mode="edge")
        return np.ascontiguousarray(_run(self.encoder, x).transpose(0, 2, 1))

    def decode(self, latent: np.ndarray, *, step: np.ndarray | float,
               frames: int | None = None) -> np.ndarray:
        """Dequantized latent ``[B, latent, Tl]`` with its quantizer ``step`` (float, ``[B, 1,
        1]`` or per frame ``[B, 1, Tl]``) -> ln-magnitude ``[B, bins, frames or Tl * down]``."""
        z = np.asarray(latent, _F32).transpose(0, 2, 1)  # [B, Tl, C]
        b, t, _ = z.shape
        s = np.asarray(step, _F32)
        s = s.reshape(-1, 1, 1) if s.ndim != 3 else s
        cond = np.broadcast_to(np.log(s).transpose(0, 2, 1), (b, t, 1))
        out = self.denormalize(_run(self.decoder, np.concatenate([z, cond], axis=-1)))
        out = np.ascontiguousarray(out.transpose(0, 2, 1))
        return out if frames is None else out[..., :frames]


class NpGenreHead:
    """Latent segments ``[B, channels, frames]`` -> label logits ``[B, labels]`` (numpy).

    ``cfg``: the head's settings (``aecodec.genre.head.HeadConfig``: ``channels``, ``segment``,
    ...); buffers ``mean``, ``std`` (input normalisation) and ``silence`` (the codec's latent of
    digital silence) come from the state dict, as in the torch ``GenreHead``.
    """

    def __init__(self, cfg: Any, labels: Sequence[str], state: State) -> None:
        self.cfg = cfg
        self.labels = list(labels)
        self.mean = _param(state, "mean")
        self.std = _param(state, "std")
        self.silence = _param(state, "silence")
        self.conv1 = _conv(state, "conv1")
        self.conv2 = _conv(state, "conv2", padding=2, dilation=2)
        self.out = Linear.from_torch(_param(state, "out.weight"), _param(state, "out.bias"))
        if self.out.bias.shape[0] != len(self.labels):
            raise ValueError(f"head gives {self.out.bias.shape[0]} logits for "
                             f"{len(self.labels)} labels")
        if self.mean.shape[0] != int(cfg.channels):
            raise ValueError(f"head normalises {self.mean.shape[0]} channels, config says "
                             f"{cfg.channels}")

    def logits(self, z: np.ndarray) -> np.ndarray:
        """``[B, channels, frames]`` -> ``[B, labels]`` float32 (dropout off: inference)."""
        x = ((np.asarray(z, _F32) - self.mean[:, None]) / self.std[:, None]).transpose(0, 2, 1)
        h = gelu(self.conv2(gelu(self.conv1(x))))  # [B, T, hidden]
        pooled = np.concatenate([h.mean(axis=1), h.std(axis=1, ddof=1)], axis=1)
        return self.out(pooled.astype(_F32, copy=False))

    def probs(self, z: np.ndarray) -> np.ndarray:
        """Softmax of :meth:`logits`, ``[B, labels]``."""
        lg = self.logits(z)
        e = np.exp(lg - lg.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(_F32, copy=False)
