"""Where the multi-resolution error lies: each resolution of ``mr_rmse`` split by band and level.

    python scripts/mr_split.py data/heldout_clips
    python scripts/mr_split.py data/heldout_clips --subset --envelope-oracle

For every clip: aecodec at 6 and 12 kbps and Opus at 12 kbps (bitrate matched, as ``bench``),
decoded, aligned, then the RMSE of log1p|STFT| at n_fft 256 and 4096 (hop n/4, 22050 Hz) over
all bins, below / above 2 kHz, over "loud" bins (source log1p magnitude > 1) and quiet ones.
``--envelope-oracle`` instead imposes the SOURCE's fine time envelope (RMS over 256 samples,
hop 64, in 1, 2 or 4 bands) on aecodec's 6-kbps output: what cheap envelope side information
could at best do. ``--subset``: every 4th clip from the second (the 5-clip set of the docs).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from aecodec.bench.metrics import align, stft_magnitude
from aecodec.bench.refcodecs import run_at_bitrate
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import read_audio

RATE = 22050


def split(ref: np.ndarray, deg: np.ndarray) -> list[float]:
    """Per resolution (256, 4096): all, < 2 kHz, >= 2 kHz, loud, quiet RMSE."""
    out = []
    for n in (256, 4096):
        r, d = (np.log1p(stft_magnitude(s, n_fft=n, hop=n // 4)) for s in (ref, deg))
        m = min(r.shape[1], d.shape[1])
        r, d = r[:, :m], d[:, :m]
        err = (r - d) ** 2
        low = (np.arange(r.shape[0]) * RATE / n < 2000)[:, None] & np.ones_like(r, bool)
        loud = r > 1
        out += [float(np.sqrt(e.mean())) if e.size else 0.0
                for e in (err, err[low], err[~low], err[loud], err[~loud])]
    return out


def _envelope(x: np.ndarray, *, hop: int = 64, win: int = 256) -> tuple[np.ndarray, np.ndarray]:
    c = np.concatenate([[0.0], np.cumsum(np.pad(x ** 2, win // 2))])
    idx = np.arange(0, len(x), hop)
    return np.sqrt((c[idx + win] - c[idx]) / win + 1e-10), idx


def impose_envelope(deg: np.ndarray, ref: np.ndarray, *, edges: list[float]) -> np.ndarray:
    """``deg`` with each band's fine envelope scaled to ``ref``'s (gain clipped to 0.1-4)."""
    out = np.zeros_like(deg)
    bounds = [0.0, *edges, RATE / 2]
    for lo, hi in itertools.pairwise(bounds):
        if lo == 0 and hi >= RATE / 2:
            sos = butter(6, 10000, "low", fs=RATE, output="sos")
        elif lo == 0:
            sos = butter(6, hi, "low", fs=RATE, output="sos")
        elif hi >= RATE / 2:
            sos = butter(6, lo, "high", fs=RATE, output="sos")
        else:
            sos = butter(6, [lo, hi], "band", fs=RATE, output="sos")
        d, r = sosfiltfilt(sos, deg), sosfiltfilt(sos, ref)
        (ed, idx), (er, _) = _envelope(d), _envelope(r)
        out += d * np.interp(np.arange(len(d)), idx, np.clip(er / ed, 0.1, 4.0))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--subset", action="store_true")
    p.add_argument("--envelope-oracle", action="store_true")
    args = p.parse_args()
    files = sorted(args.folder.glob("*.wav"))
    files = files[1::4] if args.subset else files
    rows: dict[str, list[list[float]]] = {}
    for f in files:
        au = read_audio(f)
        if au.rate != RATE:
            raise SystemExit(f"{f}: expected {RATE} Hz clips")
        x = au.samples.mean(axis=1).astype(np.float64)
        outs: dict[str, np.ndarray] = {}
        for kbps in (6.0, 12.0) if not args.envelope_oracle else (6.0,):
            y = decode_audio(encode_audio(au, kbps=kbps).to_bytes())[0][:, 0]
            outs[f"aecodec {kbps:g} kbps"] = align(x, y, rate=RATE)[:len(x)].astype(np.float64)
        if args.envelope_oracle:
            y = outs["aecodec 6 kbps"]
            for label, edges in (("1 band", []), ("2 bands", [2000.0]),
                                 ("4 bands", [500.0, 2000.0, 6000.0])):
                outs[f"+ source envelope, {label}"] = impose_envelope(y, x[:len(y)], edges=edges)
        else:
            y = run_at_bitrate("opus", x.astype(np.float32), rate=RATE, kbps=12.0).audio
            outs["opus 12 kbps"] = align(x, y, rate=RATE)[:len(x)].astype(np.float64)
        for name, y in outs.items():
            n = min(len(x), len(y))
            rows.setdefault(name, []).append(split(x[:n], y[:n]))
    print(f"{len(files)} clips; RMSE of log1p|STFT|")
    print("| codec | 256 all | <2k | >=2k | loud | quiet | 4096 all | <2k | >=2k | loud | quiet |")
    print("|---|" + "---|" * 10)
    for name, v in rows.items():
        print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in np.mean(v, axis=0)) + " |")


if __name__ == "__main__":
    main()
