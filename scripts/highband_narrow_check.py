#!/usr/bin/env python3
"""Do today's 22 kHz measures stay where they were with the high-band layer? (issue 14)

    python scripts/highband_narrow_check.py CLIPS_DIR [--kbps 6,12] [--limit N] [--json OUT]
        [--visqol] [--opus 12,24]

Encodes every clip (44.1/48 kHz) at each bitrate with and without the high-band layer
(``encode_audio(highband=False)``: the file as the codec made it before the layer), decodes
at the source rate, and prints the mean ln-STFT (``seed_rmse``), multi-resolution (``mr_rmse``)
and mel (``mel_l1``) distances of both, their difference, and the full-band measures;
``--visqol`` adds ViSQOL of the full-band files (:func:`aecodec.bench.fullband_metrics.visqol_fb`,
needs ``visqol-python``), ``--opus`` the same measures for Opus at those bitrates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aecodec.bench.fullband_metrics import fullband_metrics, visqol_fb
from aecodec.bench.metrics import align, all_metrics
from aecodec.bench.refcodecs import run_opus
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import mixdown, read_audio
from aecodec.model.registry import default_model

KEYS = ("seed_rmse", "mr_rmse", "mel_l1", "mel_fb", "mr_fb", "hf_db", "kbps")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips")
    p.add_argument("--kbps", default="6,12")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--json", default="")
    p.add_argument("--visqol", action="store_true")
    p.add_argument("--opus", default="")
    args = p.parse_args()
    clips = sorted(Path(args.clips).glob("*.wav"))
    clips = clips[:args.limit] if args.limit else clips
    rows = []
    for kbps in [float(k) for k in args.kbps.split(",")]:
        model = default_model(kbps)
        for clip in clips:
            audio = read_audio(clip)
            ref = mixdown(audio.samples)
            for layer in (False, True):
                data = encode_audio(audio, kbps=kbps, model=model, highband=layer).to_bytes()
                out, _, _ = decode_audio(data, name=clip.name)
                deg = mixdown(out)
                m = all_metrics(ref, deg, rate=audio.rate)
                m.update(fullband_metrics(ref, align(ref, deg, rate=audio.rate), rate=audio.rate))
                m["kbps"] = len(data) * 8 / audio.duration / 1000
                if args.visqol:
                    m["visqol"] = visqol_fb(ref, align(ref, deg, rate=audio.rate),
                                            rate=audio.rate)
                rows.append({"clip": clip.name, "target": kbps, "layer": layer, **m})
                print(json.dumps(rows[-1]), flush=True)
    for kbps in [float(k) for k in args.opus.split(",") if k]:
        for clip in clips:
            audio = read_audio(clip)
            ref = mixdown(audio.samples)
            res = run_opus(ref, rate=audio.rate, kbps=kbps)
            deg = align(ref, res.audio, rate=audio.rate)
            m = all_metrics(ref, deg, rate=audio.rate, align_first=False)
            m.update(fullband_metrics(ref, deg, rate=audio.rate))
            m["kbps"] = res.nbytes * 8 / audio.duration / 1000
            if args.visqol:
                m["visqol"] = visqol_fb(ref, deg, rate=audio.rate)
            rows.append({"clip": clip.name, "target": kbps, "layer": "opus", **m})
            print(json.dumps(rows[-1]), flush=True)
    keys = KEYS + (("visqol",) if args.visqol else ())
    for kbps in dict.fromkeys(r["target"] for r in rows):
        for layer in (False, True, "opus"):
            rs = [r for r in rows if r["target"] == kbps and r["layer"] == layer]
            if not rs:
                continue
            print(f"-b {kbps:g} layer={layer!s:5} n={len(rs)} " +
                  " ".join(f"{k}={np.mean([r[k] for r in rs]):.4f}" for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
