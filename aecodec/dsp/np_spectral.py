"""STFT and inverse STFT in numpy (float32), matching the torch path; Fast Griffin-Lim on them
is :mod:`aecodec.dsp.np_griffinlim`.

The same transforms as :mod:`aecodec.dsp.stft` and :mod:`aecodec.dsp.griffinlim` compute with
torch: centred frames, reflect padding (zero padding for a signal of at most ``n_fft // 2``
samples), periodic Hann window, ``istft`` normalised by the summed squared window. Frames are
cut with a strided view and transformed in one batched real FFT (:mod:`aecodec.dsp.fft`:
scipy's pocketfft); overlap-add is ``n_fft / hop`` strided sums (one per window tap group,
never a loop over frames).

Shapes: audio ``[batch, samples]``; spectrograms ``[batch, bins, frames]`` (``bins = n_fft // 2
+ 1``, ``frames = samples // hop + 1``), complex64; :class:`Overlap` works on ``[batch,
frames, bins]``, the layout of the Griffin-Lim loop.

Random initial phase is drawn exactly as ``torch.rand(shape, generator=torch.Generator()
.manual_seed(seed))`` draws it (MT19937 seeded with the low 32 bits, 24-bit mantissas), so a
numpy decoder starts Griffin-Lim from the same phase as the torch decoder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from aecodec.dsp import fft

LOG_EPS = 1e-5
"""Floor added to magnitudes before the logarithm: ``log(|X| + LOG_EPS)``."""
LOG_MAX = 12.0
"""Largest ln-magnitude a decoder turns into a magnitude (e^12 = 1.6e5; a full-scale sine
reaches 512 at n_fft 1024); see :func:`magnitude_from_log`."""
DEFAULT_ITERS = 32
DEFAULT_MOMENTUM = 0.99

_F32 = np.float32
_TINY = np.finfo(np.float32).tiny


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


def window(n_fft: int) -> np.ndarray:
    """Periodic Hann window ``[n_fft]`` float32 (as ``torch.hann_window(periodic=True)``)."""
    n = np.arange(n_fft, dtype=_F32)
    return (_F32(0.5) - _F32(0.5) * np.cos(n * _F32(2 * np.pi / n_fft))).astype(_F32)


def torch_rand(shape: tuple[int, ...], *, seed: int) -> np.ndarray:
    """``torch.rand(shape, generator=torch.Generator().manual_seed(seed))`` in numpy: float32
    uniform ``[0, 1)`` from MT19937 seeded with ``seed mod 2**32``, 24 random bits each."""
    rs = np.random.RandomState(seed & 0xFFFFFFFF)
    bits = rs.randint(0, 2 ** 32, size=int(np.prod(shape)), dtype=np.uint32)
    return ((bits & 0xFFFFFF).astype(_F32) * _F32(2.0 ** -24)).reshape(shape)


def random_phase(shape: tuple[int, ...], *, seed: int) -> np.ndarray:
    """``torch.rand(...) * 2 * torch.pi`` of :func:`torch_rand`, float32 radians."""
    return torch_rand(shape, seed=seed) * _F32(2.0) * _F32(np.pi)


def _frames_of(audio: np.ndarray, *, n_fft: int, hop: int, frames: int | None = None) -> np.ndarray:
    """Windowed frames ``[batch, frames, n_fft]`` of centred, padded ``audio [batch, samples]``."""
    pad = n_fft // 2
    mode = "reflect" if audio.shape[-1] > pad else "constant"
    x = np.pad(np.asarray(audio, _F32), ((0, 0), (pad, pad)), mode=mode)
    view = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, ::hop]
    if frames is not None:
        view = view[:, :frames]
    return view * window(n_fft)


def stft_frames(audio: np.ndarray, *, n_fft: int, hop: int,
                frames: int | None = None) -> np.ndarray:
    """Complex STFT in the ``[batch, frames, bins]`` layout (complex64)."""
    return fft.rfft(_frames_of(audio, n_fft=n_fft, hop=hop, frames=frames))


def stft(audio: np.ndarray, *, n_fft: int, hop: int) -> np.ndarray:
    """Complex STFT: ``[batch, samples]`` -> ``[batch, n_fft//2+1, samples//hop+1]`` complex64
    (``torch.stft(center=True, pad_mode="reflect")`` with a periodic Hann window)."""
    return stft_frames(audio, n_fft=n_fft, hop=hop).transpose(0, 2, 1)


def overlap_add(frames: np.ndarray, *, hop: int, out: np.ndarray | None = None,
                dtype: type | None = None) -> np.ndarray:
    """Sum of frames ``[B, T, n]`` (``hop`` divides ``n``) placed every ``hop`` samples ->
    ``[B, (T - 1) hop + n]`` (frame ``i`` starts at sample ``i hop``), as ``n / hop`` strided
    sums (never a loop over frames). ``out``: a ``[B, T + n / hop - 1, hop]`` buffer to sum into
    (zeroed first; the result is a view of it); else a new one of ``dtype`` (default
    ``frames``')."""
    b, t, n = frames.shape
    per = n // hop
    if out is None:
        out = np.zeros((b, t + per - 1, hop), dtype or frames.dtype)
    else:
        out.fill(0)
    parts = frames.reshape(b, t, per, hop)
    for k in range(per):  # 4 sums at 1024 / 256 and at 2048 / 512
        out[:, k:k + t] += parts[:, :, k]
    return out.reshape(b, -1)


class Overlap:
    """Inverse STFT on ``[batch, frames, bins]`` for a fixed frame count and output length."""

    def __init__(self, *, n_fft: int, hop: int, frames: int, length: int) -> None:
        if n_fft % hop:
            raise ValueError(f"Overlap() needs hop={hop} to divide n_fft={n_fft}")
        self.n_fft, self.hop, self.frames, self.length = n_fft, hop, frames, length
        self.win = window(n_fft)
        wss = self._ola(np.broadcast_to(self.win * self.win, (1, frames, n_fft)))[0]
        safe = np.where(wss > 1e-11, wss, _F32(1.0))
        self.inv_wss = np.where(wss > 1e-11, _F32(1.0) / safe, _F32(0.0)).astype(_F32)

    def _ola(self, frames: np.ndarray) -> np.ndarray:
        """Overlap-add ``[B, T, n_fft]`` at stride ``hop`` -> ``[B, (T - 1) * hop + n_fft]``."""
        return overlap_add(frames, hop=self.hop, dtype=_F32)

    def istft(self, spec: np.ndarray) -> np.ndarray:
        """``[B, T, bins]`` complex -> ``[B, length]`` float32 (``torch.istft(center=True)``)."""
        y = fft.irfft(spec, n=self.n_fft).astype(_F32, copy=False)
        y = self._ola(y * self.win) * self.inv_wss
        start = self.n_fft // 2
        y = y[:, start:start + self.length]
        if y.shape[1] < self.length:
            y = np.pad(y, ((0, 0), (0, self.length - y.shape[1])))
        return y

    def stft(self, audio: np.ndarray) -> np.ndarray:
        """``[B, length]`` -> ``[B, T, bins]``: :func:`stft_frames` cut to ``frames``."""
        return stft_frames(audio, n_fft=self.n_fft, hop=self.hop, frames=self.frames)


def istft(spec: np.ndarray, *, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of :func:`stft`: ``[batch, bins, frames]`` complex -> ``[batch, length]``."""
    ov = Overlap(n_fft=n_fft, hop=hop, frames=spec.shape[-1], length=length)
    return ov.istft(np.ascontiguousarray(spec.transpose(0, 2, 1)))


def log_abs(spec: np.ndarray) -> np.ndarray:
    """``ln(|spec| + LOG_EPS)`` float32, any shape."""
    return np.log(np.abs(spec) + _F32(LOG_EPS)).astype(_F32, copy=False)


def log_magnitude(audio: np.ndarray, *, n_fft: int, hop: int) -> np.ndarray:
    """``ln(|STFT| + LOG_EPS)``: ``[batch, samples]`` -> ``[batch, bins, frames]``."""
    return log_abs(stft(audio, n_fft=n_fft, hop=hop))


def magnitude_from_log(logmag: np.ndarray) -> np.ndarray:
    """``exp(L) - LOG_EPS`` clamped to ``[0, exp(LOG_MAX)]`` (a forged stream can decode to any
    ln-magnitude; the clamp keeps audio finite), float32."""
    m = np.exp(np.minimum(logmag, _F32(LOG_MAX))) - _F32(LOG_EPS)
    return np.maximum(m, _F32(0.0)).astype(_F32, copy=False)


def unit(z: np.ndarray) -> np.ndarray:
    """``z / |z|`` with 0 kept 0 (``torch.sgn``; below the smallest normal float32 ``|z|`` is
    taken as that), complex64."""
    a = np.abs(z)
    np.maximum(a, _TINY, out=a)
    return np.divide(z, a).astype(np.complex64, copy=False)


def polar(mag: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``mag * exp(i phase)`` complex64."""
    out = np.empty(np.broadcast_shapes(mag.shape, phase.shape), np.complex64)
    out.real = mag * np.cos(phase)
    out.imag = mag * np.sin(phase)
    return out
