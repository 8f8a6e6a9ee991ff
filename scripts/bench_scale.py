"""Scaling curve: encode/decode wall time and peak memory against input length.

    python scripts/bench_scale.py CLIP.wav --minutes 0.17 1 5 20 60 --out docs/scaling

Builds 44.1 kHz stereo WAVs of each length by tiling CLIP (written block by block, so this
script's own memory stays small), then runs ``aecodec encode`` and ``aecodec decode`` in fresh
processes and reads their peak resident memory (``ru_maxrss`` of the child) and wall time.
Writes ``OUT.md`` (a table) and ``OUT.png`` (plot, if matplotlib is installed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def make_long(clip: Path, out: Path, *, seconds: float, rate: int = 44100) -> None:
    from aecodec.dsp.audio import read_audio
    from aecodec.dsp.resample import resample
    a = read_audio(clip)
    x = a.samples if a.channels == 2 else np.repeat(a.samples[:, :1], 2, axis=1)
    x = resample(x, orig_rate=a.rate, new_rate=rate)
    total = int(seconds * rate)
    with sf.SoundFile(out, "w", samplerate=rate, channels=2, subtype="PCM_16") as f:
        done = 0
        while done < total:
            n = min(len(x), total - done)
            f.write(x[:n])
            done += n


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process (``os.wait4`` gives its own rusage)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("--minutes", type=float, nargs="+", default=[10 / 60, 1, 5, 20, 60])
    p.add_argument("--out", type=Path, default=Path("docs/scaling"))
    a = p.parse_args()
    rows = []
    exe = [sys.executable, "-m", "aecodec"]
    for minutes in sorted(a.minutes):
        with tempfile.TemporaryDirectory() as tmp:
            wav, aec, dec = (Path(tmp) / n for n in ("in.wav", "x.aec", "out.wav"))
            make_long(a.clip, wav, seconds=minutes * 60)
            enc_s, enc_mb = run([*exe, "encode", str(wav), str(aec), "-q"])
            dec_s, dec_mb = run([*exe, "decode", str(aec), str(dec), "-q"])
            size = os.path.getsize(aec)
        sec = minutes * 60
        rows.append((sec, enc_s, enc_mb, dec_s, dec_mb, size * 8 / sec / 1000))
        print(f"{sec:7.0f} s: encode {enc_s:7.1f} s ({sec / enc_s:5.1f}x) peak {enc_mb:6.0f} MB"
              f" | decode {dec_s:7.1f} s ({sec / dec_s:5.1f}x) peak {dec_mb:6.0f} MB", flush=True)
    head = ("| input | encode s | encode x RT | encode peak MB | decode s | decode x RT "
            "| decode peak MB | kbps |")
    lines = [head, "|" + "---|" * 8]
    for sec, es, em, ds, dm, kb in rows:
        lines.append(f"| {sec / 60:.2f} min | {es:.1f} | {sec / es:.1f} | {em:.0f} | {ds:.1f} | "
                     f"{sec / ds:.1f} | {dm:.0f} | {kb:.2f} |")
    a.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    secs = [r[0] / 60 for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(secs, [r[1] for r in rows], "o-", label="encode")
    ax1.plot(secs, [r[3] for r in rows], "o-", label="decode")
    ax1.set_xlabel("input minutes")
    ax1.set_ylabel("wall seconds")
    ax1.legend()
    ax2.plot(secs, [r[2] for r in rows], "o-", label="encode")
    ax2.plot(secs, [r[4] for r in rows], "o-", label="decode")
    ax2.set_xlabel("input minutes")
    ax2.set_ylabel("peak RSS MB")
    ax2.set_ylim(bottom=0)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(a.out.with_suffix(".png"), dpi=100)


if __name__ == "__main__":
    main()
