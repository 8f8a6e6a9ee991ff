"""Prototype of the stereo-image layer on outputs of the current codec.

For each clip: the reference stereo WAV and the current codec's decoded WAV of it (whose
channel mean is the decoded mid). The script measures the layer's parameters on the
reference (at the model rate, 22050 Hz, STFT 1024 / 256), rebuilds both channels from the
decoded mid with :mod:`aecodec.coding.stereo_image` and prints the stereo measures of
:mod:`aecodec.bench.stereo_metrics` against the reference, plus the mid fold-down's difference to
the decoded mid.

    python scripts/stereo_proto.py --clips DIR --decoded DIR --suffix -aec6 [--slot 8] [--decor module|jsign8|none] [--ipd]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from aecodec.bench.stereo_metrics import stereo_errors
from aecodec.coding import stereo_image as si
from aecodec.dsp.resample import resample

RATE, N_FFT, HOP = 22050, 1024, 256


def stft(x: np.ndarray) -> np.ndarray:
    pad = N_FFT // 2
    x = np.pad(x.astype(np.float64), pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    return np.fft.rfft(frames * win, axis=-1).T


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    frames = np.fft.irfft(spec.T, n=N_FFT, axis=-1) * win
    out = np.zeros(length + N_FFT + HOP * len(frames))
    norm = np.zeros_like(out)
    for t, f in enumerate(frames):
        out[t * HOP:t * HOP + N_FFT] += f
        norm[t * HOP:t * HOP + N_FFT] += win ** 2
    pad = N_FFT // 2
    return (out / np.maximum(norm, 1e-8))[pad:pad + length]


def run(ref: np.ndarray, dec: np.ndarray, sr: int, *, ipd: bool, decor: str,
        true_mid: bool, slot: int, bands: int,
        icc_group: tuple[int, int] | None = None) -> tuple[dict[str, float], float]:
    n = min(len(ref), len(dec))
    ref, dec = ref[:n], dec[:n]
    r22 = resample(ref.astype(np.float32), orig_rate=sr, new_rate=RATE).astype(np.float64)
    d22 = resample(dec.astype(np.float32), orig_rate=sr, new_rate=RATE).astype(np.float64)
    sl, sr_ = stft(r22[:, 0]), stft(r22[:, 1])
    mid = (sl + sr_) / 2 if true_mid else stft(d22.mean(axis=1))
    nbytes = sum(len(si.pack_image(*si.encode_chunk(
        sl[:, c:c + 512], sr_[:, c:c + 512], rate=RATE, slot=slot, bands=bands,
        group=icc_group))) + 9 for c in range(0, sl.shape[1], 512))
    if decor == "module":  # the layer as shipped: quantized ILD + grouped ICC, +-j M
        q_ild, q_icc = si.encode_chunk(sl, sr_, rate=RATE, slot=slot, bands=bands,
                                       group=icc_group)
        left, right = si.channel_spectra(mid, q_ild, q_icc, rate=RATE, slot=slot, f0=0,
                                         group=icc_group)
    else:  # experiments: unquantized parameters, IPD, other decorrelators
        icc_group = icc_group or si.icc_group(slot)
        sums = si.band_energies(sl, sr_, rate=RATE, bands=bands, slot=slot)
        ild, rho = si.parameters(sums)
        _, rho_g = si.parameters(si.groups(sums, bands=icc_group[0], slots=icc_group[1]))
        rho = np.repeat(np.repeat(rho_g, icc_group[0], 0), icc_group[1], 1)
        rho = rho[:ild.shape[0], :ild.shape[1]]
        if not ipd:
            rho = rho.real + 0j
        a, b = si.mix_coefficients(ild, rho)
        band = si.band_of_bin(bins=mid.shape[0], rate=RATE, bands=bands)
        a_f = si.per_frame(a, band=band, start=0, frames=mid.shape[1], slot=slot)
        b_f = si.per_frame(b, band=band, start=0, frames=mid.shape[1], slot=slot)
        if decor.startswith("jsign"):  # jsignN: D = +-j M, sign random per bin every N frames
            hold = int(decor[5:] or 1)
            sign = np.random.default_rng(0).choice([-1.0, 1.0], size=(
                mid.shape[0], -(-mid.shape[1] // hold)))
            d = 1j * np.repeat(sign, hold, axis=1)[:, :mid.shape[1]] * mid
        elif decor == "none":
            d = np.zeros_like(mid)
        else:
            raise SystemExit(f"unknown decorrelator {decor}")
        left, right = si.upmix(mid, d, a_f, b_f)
    out = np.stack([istft(left, len(r22)), istft(right, len(r22))], axis=1)
    fold = out.mean(axis=1)
    mid_t = istft(mid, len(r22))
    fold_err = 10 * np.log10(np.sum((fold - mid_t) ** 2) / np.sum(mid_t ** 2) + 1e-30)
    up = resample(out.astype(np.float32), orig_rate=RATE, new_rate=sr)[:n]
    return stereo_errors(ref, up, rate=sr) | {"kbps": nbytes * 8 / (n / sr) / 1000}, fold_err, up


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=Path, required=True)
    ap.add_argument("--decoded", type=Path, required=True)
    ap.add_argument("--suffix", default="-aec6")
    ap.add_argument("--ipd", action="store_true")
    ap.add_argument("--true-mid", action="store_true")
    ap.add_argument("--decor", default="module", help="module | jsignN | none")
    ap.add_argument("--slot", type=int, default=si.SLOT_FRAMES)
    ap.add_argument("--bands", type=int, default=si.BANDS)
    ap.add_argument("--icc-group", type=int, nargs=2, default=None,
                    help="share each ICC over this many bands and slots")
    ap.add_argument("--save", type=Path, help="write each rebuilt pair as SAVE/<clip>.wav")
    ap.add_argument("--f-lo", type=float, default=si.F_LO)
    ap.add_argument("--ild-step", type=float, default=si.ILD_STEP_DB)
    args = ap.parse_args()
    si.F_LO = args.f_lo  # band layout experiments
    si.ILD_STEP_DB = args.ild_step
    rows = []
    for clip in sorted(args.clips.glob("*.wav")):
        ref, sr = sf.read(clip)
        dec, _ = sf.read(args.decoded / f"{clip.stem}{args.suffix}.wav")
        e, fold, up = run(ref, dec, sr, ipd=args.ipd, decor=args.decor,
                      true_mid=args.true_mid, slot=args.slot, bands=args.bands,
                          icc_group=tuple(args.icc_group) if args.icc_group else None)
        rows.append([*e.values(), fold])
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            sf.write(args.save / f"{clip.stem}.wav", up, sr, subtype="FLOAT")
        print(f"{clip.stem[:24]:24s} level {e['level_db']:.3f} dB  coherence "
              f"{e['coherence']:.3f}  width {e['width_db']:.3f} dB  fold-down {fold:.1f} dB  "
              f"{e['kbps']:.2f} kbps")
    m = np.mean(rows, axis=0)
    print(f"{'MEAN':24s} level {m[0]:.3f} dB  coherence {m[1]:.3f}  width {m[2]:.3f} dB  "
          f"stream {m[3]:.2f} kbps  fold-down {m[4]:.1f} dB")


if __name__ == "__main__":
    main()
