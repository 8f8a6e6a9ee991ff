"""Oracle for the next phase lever: the TRUE phase of a few spectral peaks as side information.

    python scripts/peak_phase_oracle.py data/heldout_clips --kbps 6 --peaks 0,5,10 --bits 3

Each clip is coded by aecodec at ``--kbps``; its decoded ln-magnitudes (``decode_logmag``) give
the peak positions - local maxima below ``--fmax`` Hz, the ``N`` loudest per frame - so a
decoder would know them without being told. The source's phase at those bins, quantized to
``--bits``, is then held fixed through Fast Griffin-Lim (``griffin_lim(hold=...)``, 32
iterations, momentum 0.99) while the other bins iterate as usual. Prints the end-to-end measures, the side information's raw
cost (``N * bits`` per frame), and the entropy of the quantized phase against a phase-vocoder
prediction from the previous frame (``phi(t-1) + 2 pi f hop / n_fft``, ``f`` from quadratic
interpolation of the decoded log-magnitude), which estimates what an entropy-coded stream
would cost. The side information is NOT yet in the codec: this measures whether it would pay.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from aecodec.bench.metrics import mel_l1, mr_rmse, seed_rmse
from aecodec.codec.decode import decode_logmag
from aecodec.codec.encode import encode_audio
from aecodec.coding.peakphase import select_peaks
from aecodec.dsp.audio import read_audio
from aecodec.dsp.griffinlim import griffin_lim
from aecodec.dsp.stft import magnitude_from_log, stft

N_FFT, HOP, RATE = 1024, 256, 22050


def peak_mask(logmag: np.ndarray, *, count: int, kmax: int) -> np.ndarray:
    """Bool ``[F, T]``: the picks of :func:`aecodec.coding.peakphase.select_peaks` (the codec's rule)."""
    mask = np.zeros(logmag.shape, bool)
    if count:
        picks = select_peaks(logmag, count=count, kmax=kmax)
        frames = np.broadcast_to(np.arange(logmag.shape[1]), picks.shape)
        mask[picks[picks >= 0], frames[picks >= 0]] = True
    return mask


def predicted_entropy(logmag: np.ndarray, phase: np.ndarray, mask: np.ndarray, *,
                      bits: int) -> tuple[int, float]:
    """(symbols, entropy in bits per symbol) of the quantized phase minus its prediction from
    the previous frame's quantized phase at the same bin."""
    q = 2 * np.pi / 2 ** bits
    ks, ts = np.nonzero(mask[:, 1:])
    ts = ts + 1
    a, b, c = logmag[ks - 1, ts], logmag[ks, ts], logmag[ks + 1, ts]
    curv = a - 2 * b + c
    delta = np.clip(np.where(curv != 0, 0.5 * (a - c) / np.where(curv != 0, curv, 1), 0), -0.5, 0.5)
    pred = np.round(phase[ks, ts - 1] / q) * q + 2 * np.pi * (ks + delta) * HOP / N_FFT
    sym = np.round((phase[ks, ts] - pred) / q).astype(np.int64) % 2 ** bits
    counts = np.bincount(sym, minlength=2 ** bits) / max(len(sym), 1)
    nz = counts[counts > 0]
    return len(sym), float(-(nz * np.log2(nz)).sum())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--kbps", type=float, default=6.0)
    p.add_argument("--peaks", default="0,5,10")
    p.add_argument("--bits", type=int, default=3)
    p.add_argument("--fmax", type=float, default=2000.0)
    args = p.parse_args()
    torch.set_num_threads(1)
    counts = [int(n) for n in args.peaks.split(",")]
    rows: dict[int, list[list[float]]] = {n: [] for n in counts}
    for path in sorted(args.folder.glob("*.wav")):
        au = read_audio(path)
        x = au.samples.mean(axis=1)
        logmag = decode_logmag(encode_audio(au, kbps=args.kbps).to_bytes())[0]
        spec = stft(torch.from_numpy(x)[None], n_fft=N_FFT, hop=HOP)[0].numpy()
        frames = min(logmag.shape[1], spec.shape[1])
        logmag, spec = logmag[:, :frames], spec[:, :frames]
        phase = np.angle(spec)
        q = 2 * np.pi / 2 ** args.bits
        for n in counts:
            mask = peak_mask(logmag, count=n, kmax=int(args.fmax / RATE * N_FFT))
            y = griffin_lim(magnitude_from_log(torch.from_numpy(logmag))[None], n_fft=N_FFT,
                            hop=HOP, length=(frames - 1) * HOP,
                            hold=(torch.from_numpy(mask)[None],
                                  torch.from_numpy(np.round(phase / q) * q).float()[None])
                            )[0].numpy()
            m = min(len(x), len(y))
            seconds = len(x) / RATE
            symbols, entropy = predicted_entropy(logmag, phase, mask, bits=args.bits)
            rows[n].append([mr_rmse(x[:m], y[:m], rate=RATE), mel_l1(x[:m], y[:m], rate=RATE),
                            seed_rmse(x[:m], y[:m], rate=RATE),
                            mask.sum() * args.bits / seconds / 1000,
                            symbols * entropy / seconds / 1000])
    print(f"aecodec -b {args.kbps:g}, {len(rows[counts[0]])} clips, peaks below {args.fmax:g} Hz, "
          f"{args.bits}-bit phase")
    print("| peaks / frame | mr_rmse | mel_l1 | seed_rmse | side info raw kbps | predicted, "
          "entropy-coded kbps (estimate) |")
    print("|---|---|---|---|---|---|")
    for n, v in rows.items():
        mr, mel, seed, raw, coded = np.mean(v, axis=0)
        print(f"| {n} | {mr:.3f} | {mel:.3f} | {seed:.3f} | {raw:.2f} | {coded:.2f} |")


if __name__ == "__main__":
    main()
