"""Stereo table: aecodec and Opus on 44.1 kHz stereo clips, stereo-image and mid-mix measures.

For every clip: ``aecodec`` at each ``-b`` (library encode + decode, the CLI's defaults) and
``opusenc --bitrate K`` / ``opusdec --rate 48000`` (resampled back); the actual bitrate (file
bytes x 8 / duration), the stereo measures of :mod:`aecodec.bench.stereo_metrics` against the source
and the mono measures of :mod:`aecodec.bench.metrics` on the channel mean. Prints a markdown table of
means (and per-file rows with ``-v``); ``--json`` keeps every row.

    OMP_NUM_THREADS=1 python scripts/stereo_bench.py data/heldout_stereo -b 6 12 --opus 12 24
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from aecodec.bench.metrics import all_metrics, find_delay
from aecodec.bench.stereo_metrics import stereo_errors
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import mixdown, read_audio
from aecodec.dsp.resample import resample

KEYS = ("kbps", "level_db", "coherence", "width_db", "seed_rmse", "mr_rmse", "mel_l1")


def measure(ref: np.ndarray, out: np.ndarray, rate: int, nbytes: int) -> dict[str, float]:
    """Bitrate, stereo measures (both channels shifted by the mid's delay) and mono measures
    of the channel mean."""
    mono = all_metrics(mixdown(ref), mixdown(out), rate=rate)
    delay = find_delay(mixdown(ref), mixdown(out), rate=rate)
    out = out[delay:] if delay >= 0 else np.concatenate([np.zeros((-delay, 2), out.dtype), out])
    n = min(len(ref), len(out))
    return {"kbps": nbytes * 8 / (len(ref) / rate) / 1000,
            **stereo_errors(ref[:n], out[:n], rate=rate), **mono}


def run_opus(path: Path, kbps: float, rate: int) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="aec-st-") as tmp:
        enc, dec = Path(tmp) / "x.opus", Path(tmp) / "x.wav"
        subprocess.run(["opusenc", "--quiet", "--bitrate", f"{kbps:g}", str(path), str(enc)],
                       check=True, capture_output=True)
        subprocess.run(["opusdec", "--quiet", "--rate", "48000", str(enc), str(dec)],
                       check=True, capture_output=True)
        out, sr = sf.read(dec, dtype="float32", always_2d=True)
        return resample(out, orig_rate=sr, new_rate=rate), enc.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", type=Path)
    ap.add_argument("-b", type=float, nargs="*", default=[6.0, 12.0])
    ap.add_argument("--opus", type=float, nargs="*", default=[12.0, 24.0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    rows = []
    for path in sorted(args.clips.glob("*.wav")):
        audio = read_audio(path)
        if audio.samples.ndim != 2 or audio.samples.shape[1] != 2:
            continue
        ref = audio.samples
        for kbps in args.b:
            data = encode_audio(audio, kbps=kbps).to_bytes()
            out, _, _ = decode_audio(data, name=path.name)
            rows.append({"file": path.name, "codec": f"aecodec -b {kbps:g}",
                         **measure(ref, out, audio.rate, len(data))})
        for kbps in args.opus:
            out, nbytes = run_opus(path, kbps, audio.rate)
            rows.append({"file": path.name, "codec": f"Opus --bitrate {kbps:g}",
                         **measure(ref, out[:len(ref)], audio.rate, nbytes)})
        if args.v:
            for r in rows[-len(args.b) - len(args.opus):]:
                print(r["file"][:30], r["codec"], *(f"{r[k]:.3f}" for k in KEYS), flush=True)
    files = len({r["file"] for r in rows})
    print(f"\n{files} stereo clips\n")
    print("| codec | actual kbps | level error | coherence error | width error | "
          "ln-STFT (seed_rmse) | mr_rmse | mel_l1 |")
    print("|---|---|---|---|---|---|---|---|")
    for codec in dict.fromkeys(r["codec"] for r in rows):
        m = {k: float(np.mean([r[k] for r in rows if r["codec"] == codec])) for k in KEYS}
        print(f"| {codec} | {m['kbps']:.1f} | {m['level_db']:.2f} dB | {m['coherence']:.3f} | "
              f"{m['width_db']:.1f} dB | {m['seed_rmse']:.3f} | {m['mr_rmse']:.3f} | "
              f"{m['mel_l1']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
