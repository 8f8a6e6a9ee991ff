#!/usr/bin/env python3
"""Prototype of the high-band layer (issue 14) on clips decoded by the codec without it.

    python scripts/highband_proto.py CLIPS_DIR DECODED_DIR [--kbps 6,12] [--slot 4] [--step 3]
        [--opus 12,24] [--json OUT]

``CLIPS_DIR`` holds 44.1/48 kHz mono WAV sources ``NAME.wav``; ``DECODED_DIR`` their
aecodec decodes at the source rate, ``NAME.b<KBPS>.wav`` (``python -m aecodec encode NAME.wav
X.aec -b KBPS``, ``python -m aecodec decode X.aec NAME.b<KBPS>.wav --rate 44100``). For
each clip and bitrate: the full-band measures of the decode as is and with the high band of
:mod:`aecodec.coding.highband` rebuilt from the source's envelope, the envelope's bits
(:mod:`aecodec.coding.highband_code`), and the same measures for Opus at ``--opus`` kbps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aecodec.bench.fullband_metrics import fullband_metrics
from aecodec.coding import highband as hb


def envelope_bits(q: np.ndarray) -> float:
    try:
        from aecodec.coding.highband_code import encode_envelope
    except ImportError:
        return float("nan")
    return 8.0 * len(encode_envelope(q))


def narrow(ref: np.ndarray, deg: np.ndarray, rate: int, prefix: str) -> dict[str, float]:
    """Today's 22 kHz measures (they must not get worse)."""
    from aecodec.bench.metrics import mel_l1, mr_rmse, seed_rmse
    return {f"{prefix}ln22": seed_rmse(ref, deg, rate=rate),
            f"{prefix}mr22": mr_rmse(ref, deg, rate=rate),
            f"{prefix}mel22": mel_l1(ref, deg, rate=rate)}


def fit(pool: str, points: list[tuple[int, float]]) -> None:
    """Fit the envelope tables' ratios on the clips in ``pool`` (the training pool)."""
    from aecodec.coding import highband_code as hc
    qs = []
    for clip in sorted(Path(pool).glob("*.wav")):
        x, rate = sf.read(clip, dtype="float32")
        x = x if x.ndim == 1 else x.mean(axis=1)
        for slot, step in points:
            n = int(hb.slot_of_time(np.array([len(x) / rate]), slot=slot)[0]) + 1
            qs.append(hb.quantize(hb.analyze(x, rate=rate, x0=0, s0=0, s1=n, slot=slot,
                                             bands=hb.band_count(rate)), step=step))
    ratios = hc.fit_ratios(qs)
    secs = len(qs) / len(points) * 10
    for name, r in (("current", hc.RATIO), ("fitted", ratios)):
        bits = sum(hc.envelope_bits(q, ratios=r) for q in qs) / len(points) / secs
        print(f"{name} RATIO = {r}: {bits:.0f} bit/s on {len(qs) // len(points)} clips")


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for clip in sorted(Path(args.clips).glob("*.wav")):
        ref, rate = sf.read(clip, dtype="float32")
        ref = ref if ref.ndim == 1 else ref.mean(axis=1)
        secs = len(ref) / rate
        bands = hb.band_count(rate)
        n_slots = int(hb.slot_of_time(np.array([secs]), slot=args.slot)[0]) + 1
        env = hb.analyze(ref, rate=rate, x0=0, s0=0, s1=n_slots, slot=args.slot, bands=bands)
        q = hb.quantize(env, step=args.step)
        qd = {s: hb.dequantize(q[:, s], step=args.step) for s in range(q.shape[1])}
        bits = envelope_bits(q)
        for kbps in args.kbps:
            dec_path = Path(args.decoded) / f"{clip.stem}.b{kbps:g}.wav"
            if not dec_path.exists():
                continue
            deg, r2 = sf.read(dec_path, dtype="float32")
            assert r2 == rate
            deg = deg if deg.ndim == 1 else deg.mean(axis=1)
            base = fullband_metrics(ref, deg, rate=rate)
            out = hb.synthesize(deg[:, None], rate=rate, env=qd, slot=args.slot,
                                bands=bands)[:, 0]
            if args.write:
                sf.write(Path(args.write) / f"{clip.stem}.b{kbps:g}.hb.wav", out, rate)
            new = fullband_metrics(ref, out, rate=rate)
            new.update(narrow(ref, out, rate, ""))
            new.update(narrow(ref, deg, rate, "base_"))
            row = {"clip": clip.stem, "codec": f"aecodec-{kbps:g}", "hb_kbps": bits / secs / 1000,
                   **{f"base_{k}": v for k, v in base.items()}, **new}
            rows.append(row)
            print(json.dumps(row), flush=True)
        for kbps in args.opus:
            from aecodec.bench.metrics import align
            from aecodec.bench.refcodecs import run_opus
            res = run_opus(ref, rate=rate, kbps=kbps)
            deg = align(ref, res.audio, rate=rate)
            row = {"clip": clip.stem, "codec": f"opus-{kbps:g}",
                   "kbps": res.nbytes * 8 / secs / 1000, **fullband_metrics(ref, deg, rate=rate)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips")
    p.add_argument("decoded")
    p.add_argument("--kbps", type=lambda s: [float(x) for x in s.split(",")], default=[6, 12])
    p.add_argument("--opus", type=lambda s: [float(x) for x in s.split(",") if x], default=[])
    p.add_argument("--slot", type=int, default=4)
    p.add_argument("--step", type=float, default=3.0)
    p.add_argument("--write", default="")
    p.add_argument("--json", default="")
    p.add_argument("--fit", default="", help="fit the tables on this folder of clips instead")
    args = p.parse_args()
    if args.fit:
        fit(args.fit, [(args.slot, args.step)])
        return
    rows = run(args)
    keys = ["mel_fb", "mr_fb", "hf_db", "hb_kbps", "base_mel_fb", "base_mr_fb", "base_hf_db",
            "kbps", "ln22", "mr22", "mel22", "base_ln22", "base_mr22", "base_mel22"]
    for codec in dict.fromkeys(str(r["codec"]) for r in rows):
        rs = [r for r in rows if r["codec"] == codec]
        means = {k: float(np.mean([float(r[k]) for r in rs])) for k in keys if k in rs[0]}
        print(codec, len(rs), " ".join(f"{k}={v:.3f}" for k, v in means.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
