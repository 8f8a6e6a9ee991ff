"""Peak-phase side information: the source's phase at the decoder's own loudest low peaks.

Griffin-Lim cannot recover how low partials beat against each other from lossy magnitudes
(docs/benchmarks.md: the multi-resolution gap to Opus is at the 256-point resolution below
2 kHz). This layer sends, for every STFT frame, the phase of the ``PEAKS`` loudest local maxima
below bin ``KMAX`` of the DECODED ln-magnitudes (``PEAKS``, or ``NARROW_PEAKS`` at lower rates) - positions the decoder finds itself, so they
cost nothing - quantized to ``BITS`` bits; Griffin-Lim then holds those bins at that phase.

A phase is coded against a phase-vocoder prediction when the same bin was picked in the
previous frame of the chunk: ``phi(t-1) + 2 pi (k + d) hop / n_fft``, ``d`` the quadratic
interpolation of the peak in the decoded ln-magnitude; otherwise as is. Symbols
``round((phi - prediction) / q) mod 2**BITS`` (``q = 2 pi / 2**BITS``) form a ``[frames,
PEAKS]`` uint8 array, one zstd frame. The count per frame is fixed, so a peak that encoder and
decoder see differently (their magnitudes can differ in the last bits near chunk seams) costs
that peak's quality, never the stream's synchronisation.

Measured as an oracle before it was built (20 held-out clips, 10 peaks, 3 bits): multi-res
0.268 -> 0.241 on 4.3-kbps magnitudes for about 1.8 kbps of side information.
"""

from __future__ import annotations

import math

import numpy as np
import zstandard

from aecodec.coding.zstd import decompress_exact

PEAKS = 10
"""Phases sent per frame from ``WIDE_KBPS`` up (``NARROW_PEAKS`` below it)."""
NARROW_PEAKS = 5
WIDE_KBPS = 9.0
MAX_PEAKS = 32
"""Largest count a file may declare."""
BITS = 3
"""Bits per phase (before entropy coding)."""
KMAX = 93
"""Peaks are looked for in bins ``1 .. KMAX - 1`` (below 2 kHz at n_fft 1024, 22050 Hz)."""
MIN_KBPS = 6.0
"""Encoders add the layer from this target bitrate up. Measured on 5 held-out clips: at 3 kbps
it costs more than it gives (5 peaks: multi-res 0.241 -> 0.237 but mel 0.123 -> 0.143); at 6
kbps 5 peaks give multi-res 0.224 -> 0.210 for mel 0.100 -> 0.105 (10 peaks: 0.207 for
0.112); at 12 kbps 10 peaks give 0.211 -> 0.187 for mel 0.080 -> 0.083."""


def peaks_for(kbps: float) -> int:
    """Peaks per frame an encoder sends at a target bitrate (0: no layer)."""
    if kbps < MIN_KBPS:
        return 0
    return NARROW_PEAKS if kbps < WIDE_KBPS else PEAKS


def meta_for(count: int) -> dict[str, int]:
    """The metadata object (``"phase"``) of a file that carries ``count`` peaks a frame."""
    return {"peaks": count, "bits": BITS, "kmax": KMAX}


def valid_meta(value: object) -> bool:
    """Whether a file's ``"phase"`` metadata is one this build decodes."""
    return (isinstance(value, dict) and set(value) == {"peaks", "bits", "kmax"}
            and value["bits"] == BITS and value["kmax"] == KMAX
            and isinstance(value["peaks"], int) and not isinstance(value["peaks"], bool)
            and 1 <= value["peaks"] <= MAX_PEAKS)
QUANT = 2 * math.pi / 2 ** BITS


def select_peaks(logmag: np.ndarray, *, count: int, kmax: int = KMAX) -> np.ndarray:
    """Bins ``[count, frames]`` (int64) picked in ``logmag [bins, frames]``: local maxima in
    ``1 .. kmax - 1``, loudest first; ``-1`` where a frame has fewer than ``count``."""
    bins, frames = logmag.shape
    kmax = min(kmax, bins - 1)
    mid = logmag[1:kmax]
    peak = (mid > logmag[:kmax - 1]) & (mid > logmag[2:kmax + 1])
    score = np.where(peak, mid, -np.inf)
    order = np.argsort(-score, axis=0, kind="stable")[:count]
    picks = order + 1
    valid = np.take_along_axis(peak, order, axis=0)
    out = np.where(valid, picks, -1).astype(np.int64)
    if out.shape[0] < count:  # fewer candidate bins than count (tiny spectra)
        out = np.vstack([out, np.full((count - out.shape[0], frames), -1, np.int64)])
    return out


def _advance(logmag: np.ndarray, picks: np.ndarray, *, hop: int, n_fft: int) -> np.ndarray:
    """Phase advance over one hop ``[count, frames]`` of every pick (quadratic interpolation
    of the peak's position in its frame; 0 where the pick is ``-1``)."""
    frames = np.broadcast_to(np.arange(picks.shape[1]), picks.shape)
    k = np.maximum(picks, 1)
    a, b, c = logmag[k - 1, frames], logmag[k, frames], logmag[k + 1, frames]
    curv = a - 2 * b + c
    safe = np.where(curv != 0, curv, 1.0)
    d = np.clip(np.where(curv != 0, 0.5 * (a - c) / safe, 0.0), -0.5, 0.5)
    return np.where(picks >= 0, 2 * np.pi * (k + d) * hop / n_fft, 0.0)


def encode_phases(logmag: np.ndarray, phase: np.ndarray, *, count: int, hop: int,
                  n_fft: int) -> bytes:
    """Symbols of the true ``phase [bins, frames]`` at the ``count`` peaks a frame of the
    decoded ``logmag`` (same shape) -> one zstd frame of ``[frames, count]`` uint8."""
    picks = select_peaks(logmag, count=count)
    frames = logmag.shape[1]
    adv = _advance(logmag, picks, hop=hop, n_fft=n_fft).T.tolist()
    true = np.where(picks >= 0, phase[np.maximum(picks, 0), np.arange(frames)], 0.0).T.tolist()
    rows = picks.T.tolist()
    sym = np.zeros((frames, count), np.uint8)
    levels = 2 ** BITS
    prev: dict[int, float] = {}
    for t in range(frames):  # plain floats: a few picks a frame, a chain along each bin
        now: dict[int, float] = {}
        row = sym[t]
        for i, k in enumerate(rows[t]):
            if k < 0:
                continue
            pred = prev[k] + adv[t][i] if t and k in prev else 0.0
            s = round((true[t][i] - pred) / QUANT)
            row[i] = s % levels
            now[k] = pred + s * QUANT
        prev = now
    return zstandard.ZstdCompressor(level=19).compress(sym.tobytes())


def parse_symbols(data: bytes, *, frames: int, count: int, name: str = "<stream>") -> np.ndarray:
    """A phase stream -> uint8 symbols ``[frames, count]``; :class:`FormatError` if it does
    not decompress to exactly that many."""
    raw = decompress_exact(data, frames * count, name=name, what="phase stream")
    return np.frombuffer(raw, np.uint8).reshape(frames, count)


def phases_from_symbols(symbols: np.ndarray, logmag: np.ndarray, *, hop: int,
                        n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """The decoder's side of :func:`encode_phases`, given its own ``logmag [bins, frames]``:
    ``(held bool [bins, frames], phase float32 [bins, frames])``."""
    frames = logmag.shape[1]
    picks = select_peaks(logmag, count=symbols.shape[1])
    adv = _advance(logmag, picks, hop=hop, n_fft=n_fft).T.tolist()
    sym = (symbols.astype(np.int64) % 2 ** BITS).tolist()
    rows = picks.T.tolist()
    held = np.zeros(logmag.shape, bool)
    out = np.zeros(logmag.shape, np.float32)
    prev: dict[int, float] = {}
    for t in range(frames):
        now: dict[int, float] = {}
        for i, k in enumerate(rows[t]):
            if k < 0:
                continue
            pred = prev[k] + adv[t][i] if t and k in prev else 0.0
            now[k] = pred + sym[t][i] * QUANT
        for k, phi in now.items():
            held[k, t] = True
            out[k, t] = phi
        prev = now
    return held, out
