"""Fast Griffin-Lim in numpy (float32) with preallocated buffers, split in two frame halves.

The same iteration as :func:`aecodec.dsp.griffinlim.griffin_lim` (torch) and the same bits as
a plain numpy loop of :mod:`aecodec.dsp.np_spectral`'s ``istft``/``stft``: every array op is
the same, only written into buffers made once (a fresh 2-MB array a step cost more in page
faults than the FFTs) and run per frame half. The halves are fixed (``frames // 2``), and each
element and each FFT row is computed the same way in either half, so the output does not
depend on :func:`aecodec.dsp.workers.count`: with two workers the halves run at once (numpy
and pocketfft release the GIL), with one they run in turn.

Shapes: magnitudes ``[batch, bins, frames]`` in, the loop on ``[batch, frames, bins]``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aecodec.dsp import fft, workers
from aecodec.dsp.np_spectral import (
    DEFAULT_ITERS,
    DEFAULT_MOMENTUM,
    Overlap,
    overlap_add,
    polar,
    random_phase,
    unit,
)

_F32 = np.float32
_TINY = np.finfo(np.float32).tiny


class _Engine:
    """Buffers and steps of one Griffin-Lim run on ``[B, T, F]``."""

    def __init__(self, mag: np.ndarray, *, n_fft: int, hop: int, length: int) -> None:
        b, t, f = mag.shape
        self.mag, self.n_fft, self.hop, self.length = mag, n_fft, hop, length
        self.ov = Overlap(n_fft=n_fft, hop=hop, frames=t, length=length)
        self.spec = np.empty((b, t, f), np.complex64)
        self.frames = np.empty((b, t, n_fft), _F32)
        self.absz = np.empty((b, t, f), _F32)
        pad = n_fft // 2
        self.padded = np.zeros((b, length + 2 * pad), _F32)
        view = np.lib.stride_tricks.sliding_window_view(self.padded, n_fft, axis=-1)[:, ::hop]
        self.windows = view[:, :t]  # a view: reads self.padded as it is when used
        overlap = n_fft // hop
        self.ola = np.zeros((b, t + overlap - 1, hop), _F32)
        self.halves = [slice(0, t // 2), slice(t // 2, t)]
        self.left = np.arange(pad, 0, -1)  # reflected indices: x[pad], ..., x[1]
        self.right = length - 2 - np.arange(pad)  # x[n - 2], ..., x[n - 1 - pad]

    def split(self, step: Callable[[slice], None]) -> None:
        """``step`` on each frame half (at once when there are two workers)."""
        workers.run_each(step, self.halves)

    def synthesize(self, angles: np.ndarray) -> None:
        """``istft(mag * angles)`` into ``self.padded`` (centre; edges reflected)."""
        def half(h: slice) -> None:
            spec = np.multiply(self.mag[:, h], angles[:, h], out=self.spec[:, h])
            fft.irfft(spec, n=self.n_fft, out=self.frames[:, h])
            np.multiply(self.frames[:, h], self.ov.win, out=self.frames[:, h])
        self.split(half)
        flat = overlap_add(self.frames, hop=self.hop, out=self.ola)  # as Overlap's istft
        pad, n = self.n_fft // 2, self.length
        got = min(n, flat.shape[1] - pad)
        centre = self.padded[:, pad:pad + n]
        np.multiply(flat[:, pad:pad + got], self.ov.inv_wss[pad:pad + got], out=centre[:, :got])
        centre[:, got:] = 0.0
        if n > pad:  # reflect padding (np.pad mode="reflect"), as the stft does
            self.padded[:, :pad] = centre[:, self.left]
            self.padded[:, pad + n:] = centre[:, self.right]
        else:  # a signal of at most n_fft // 2 samples: zero padding
            self.padded[:, :pad] = 0.0
            self.padded[:, pad + n:] = 0.0

    def analyse(self, h: slice, out: np.ndarray) -> np.ndarray:
        """``stft`` of ``self.padded`` for frames ``h`` into ``out[:, h]``."""
        np.multiply(self.windows[:, h], self.ov.win, out=self.frames[:, h])
        return fft.rfft(self.frames[:, h], out=out[:, h])

    def project(self, h: slice, z: np.ndarray, out: np.ndarray) -> None:
        """``out = unit(z)`` for frames ``h`` (:func:`aecodec.dsp.np_spectral.unit`, same
        bits: numpy divides a complex number by a real one as both parts times ``1 / |z|``)."""
        a = np.abs(z, out=self.absz[:, h])
        np.maximum(a, _TINY, out=a)
        np.divide(_F32(1.0), a, out=a)
        np.multiply(z, a, out=out)  # (x + iy)(r + 0i): x r and y r, as numpy's division


def griffin_lim(magnitude: np.ndarray, *, n_fft: int, hop: int, length: int,
                iters: int = DEFAULT_ITERS, momentum: float = DEFAULT_MOMENTUM,
                init_phase: np.ndarray | None = None, seed: int = 0,
                pinned: np.ndarray | None = None,
                hold: tuple[np.ndarray, np.ndarray] | None = None,
                return_spec: bool = False) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard, 2013) from magnitudes.

    Parameters
    ----------
    magnitude : ndarray ``[batch, bins, frames]``
        Non-negative linear magnitudes.
    n_fft, hop : int
        STFT settings (``hop`` must divide ``n_fft``).
    length : int
        Output length in samples (``frames == length // hop + 1``).
    iters : int, default 32
        Projection iterations (0 returns the initial estimate).
    momentum : float, default 0.99
        Momentum ``alpha`` in [0, 1); 0 is plain Griffin-Lim.
    init_phase : ndarray ``[batch, bins, frames]``, optional
        Initial phase (radians); default :func:`~aecodec.dsp.np_spectral.random_phase` of
        ``seed``.
    seed : int, default 0
        Seed of the random initial phase.
    pinned : ndarray ``[batch, bins, P]`` complex, optional
        The first ``P`` frames are held at these values throughout (chunk seams).
    hold : (ndarray bool, ndarray float) ``[batch, bins, frames]`` each, optional
        Bins held at the given phase throughout (the peak-phase layer).
    return_spec : bool, default False
        Return the final spectrogram ``[batch, bins, frames]`` complex64 instead of audio.

    Returns
    -------
    ndarray ``[batch, length]`` float32 (or the spectrogram with ``return_spec``).
    """
    if iters < 0:
        raise ValueError(f"griffin_lim() called with iters={iters} < 0")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"griffin_lim() called with momentum={momentum} outside [0, 1)")
    if magnitude.ndim != 3:
        raise ValueError(f"griffin_lim() expects [batch, bins, frames], got {magnitude.shape}")
    if init_phase is None:
        init_phase = random_phase(magnitude.shape, seed=seed)
    mag = np.ascontiguousarray(magnitude.transpose(0, 2, 1), dtype=_F32)  # [B, T, F]
    angles = polar(np.ones((), _F32), np.ascontiguousarray(init_phase.transpose(0, 2, 1)))
    fix = None
    if pinned is not None:
        fix = unit(pinned.transpose(0, 2, 1))
        mag[:, :fix.shape[1]] = np.abs(pinned.transpose(0, 2, 1))
        angles[:, :fix.shape[1]] = fix
    held = held_angles = None
    if hold is not None:
        held = np.ascontiguousarray(hold[0].transpose(0, 2, 1))
        held_angles = polar(np.ones((), _F32), hold[1].transpose(0, 2, 1).astype(_F32))
        np.copyto(angles, held_angles, where=held)
    eng = _Engine(mag, n_fft=n_fft, hop=hop, length=length)
    rebuilt, prev = np.empty_like(angles), np.zeros_like(angles)
    scale = _F32(momentum / (1.0 + momentum))

    for _ in range(iters):
        eng.synthesize(angles)

        def update(h: slice, rebuilt: np.ndarray = rebuilt, prev: np.ndarray = prev) -> None:
            new = eng.analyse(h, rebuilt)
            if momentum:
                step = np.multiply(prev[:, h], scale, out=prev[:, h])
                z = np.subtract(new, step, out=step)
            else:
                z = new
            eng.project(h, z, angles[:, h])
            if held is not None and held_angles is not None:
                np.copyto(angles[:, h], held_angles[:, h], where=held[:, h])
        eng.split(update)
        if fix is not None:
            angles[:, :fix.shape[1]] = fix
        rebuilt, prev = prev, rebuilt
    spec = np.multiply(mag, angles)
    if return_spec:
        return spec.transpose(0, 2, 1)
    return eng.ov.istft(spec)
