"""Inference layers in numpy (float32): 1-D/2-D convolutions, transposed convolution, GELU.

Activations are kept channels-last (``[batch, time, channels]``, 2-D: ``[batch, freq, time,
channels]``) so that every convolution is one im2col + matmul: the ``k`` shifted (dilated,
strided) views of the padded input are stacked on the channel axis and multiplied by the
weight reshaped to ``[k * in, out]``. Weights come in torch's layout (``Conv1d [out, in, k]``,
``ConvTranspose1d [in, out, k]``, ``Conv2d [out, in, kh, kw]``) and are rearranged once.
The only Python loops run over kernel taps, never over frames.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from aecodec.model.np_erf import gelu

_F32 = np.float32

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "Linear", "gelu"]


def _rearranged(weight: np.ndarray, axes: tuple[int, ...], shape: tuple[int, int]) -> np.ndarray:
    """``weight.transpose(axes).reshape(shape)`` as a new C-contiguous float32 array, cast and
    copied in one pass (weights are stored as float16: the cast is exact)."""
    w = np.asarray(weight)
    out = np.empty(shape, _F32)
    out.reshape(tuple(w.shape[a] for a in axes))[...] = w.transpose(axes)
    return out


class Conv1d(NamedTuple):
    """``[B, T, in]`` -> ``[B, T_out, out]``; torch ``Conv1d`` semantics (zero padding)."""

    weight: np.ndarray  # [k * in, out]
    bias: np.ndarray  # [out]
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    @classmethod
    def from_torch(cls, weight: np.ndarray, bias: np.ndarray, *, stride: int = 1,
                   padding: int = 0, dilation: int = 1) -> Conv1d:
        """From torch's ``weight [out, in, k]`` and ``bias [out]``."""
        out, inp, k = weight.shape
        return cls(_rearranged(weight, (2, 1, 0), (k * inp, out)), np.asarray(bias, _F32), k,
                   stride, padding, dilation)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        t = x.shape[1]
        if self.kernel == 1 and self.stride == 1 and self.padding == 0:
            return x @ self.weight + self.bias
        p, d, s, k = self.padding, self.dilation, self.stride, self.kernel
        xp = np.pad(x, ((0, 0), (p, p), (0, 0))) if p else x
        t_out = (t + 2 * p - d * (k - 1) - 1) // s + 1
        cols = np.concatenate([xp[:, j * d:j * d + s * (t_out - 1) + 1:s] for j in range(k)],
                              axis=-1)
        return cols @ self.weight + self.bias


class ConvTranspose1d(NamedTuple):
    """``[B, T, in]`` -> ``[B, (T - 1) * stride - 2 * padding + k, out]``; torch semantics."""

    weight: np.ndarray  # [in, k * out]
    bias: np.ndarray  # [out]
    kernel: int
    stride: int
    padding: int

    @classmethod
    def from_torch(cls, weight: np.ndarray, bias: np.ndarray, *, stride: int,
                   padding: int) -> ConvTranspose1d:
        """From torch's ``weight [in, out, k]`` and ``bias [out]``."""
        inp, out, k = weight.shape
        return cls(_rearranged(weight, (0, 2, 1), (inp, k * out)), np.asarray(bias, _F32), k,
                   stride, padding)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        b, t, _ = x.shape
        k, s, p = self.kernel, self.stride, self.padding
        out_ch = self.bias.shape[0]
        taps = (x @ self.weight).reshape(b, t, k, out_ch)  # input frame t, tap j -> t * s + j
        full = np.zeros((b, (t - 1) * s + k, out_ch), _F32)
        for j in range(k):
            full[:, j:j + s * (t - 1) + 1:s] += taps[:, :, j]
        return full[:, p:full.shape[1] - p] + self.bias


class Conv2d(NamedTuple):
    """``[B, H, W, in]`` -> ``[B, H, W, out]``: torch ``Conv2d`` with stride 1 and
    "same" padding ``(dilation_h * (kh // 2), dilation_w * (kw // 2))``."""

    weight: np.ndarray  # [kh * kw * in, out]
    bias: np.ndarray
    kh: int
    kw: int
    dilation: tuple[int, int] = (1, 1)

    @classmethod
    def from_torch(cls, weight: np.ndarray, bias: np.ndarray, *,
                   dilation: tuple[int, int] = (1, 1)) -> Conv2d:
        """From torch's ``weight [out, in, kh, kw]`` and ``bias [out]``."""
        out, inp, kh, kw = weight.shape
        return cls(_rearranged(weight, (2, 3, 1, 0), (kh * kw * inp, out)),
                   np.asarray(bias, _F32), kh, kw, dilation)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h, w = x.shape[1:3]
        dh, dw = self.dilation
        ph, pw = dh * (self.kh // 2), dw * (self.kw // 2)
        xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        cols = np.concatenate([xp[:, i * dh:i * dh + h, j * dw:j * dw + w]
                               for i in range(self.kh) for j in range(self.kw)], axis=-1)
        return cols @ self.weight + self.bias


class Linear(NamedTuple):
    """``[..., in]`` -> ``[..., out]`` from torch's ``weight [out, in]``."""

    weight: np.ndarray  # [in, out]
    bias: np.ndarray

    @classmethod
    def from_torch(cls, weight: np.ndarray, bias: np.ndarray) -> Linear:
        return cls(np.ascontiguousarray(weight.T, dtype=_F32), np.asarray(bias, _F32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight + self.bias
