#!/usr/bin/env python3
"""Whole-process wall time of aecodec beside opusenc/opusdec, as a user runs them.

    python scripts/bench_wall.py TRACK.wav [--out runs/wall] [--repeat 3] [--clips 100]

From one held-out track (any rate; 44.1 kHz stereo is what users have) this makes a 10-s
excerpt and a 10-min track (the track looped), then times, best of ``--repeat``, each command
as its own process (interpreter start, imports, model load and file I/O included):

* ``aecodec --help``, ``aecodec info``;
* encode and decode of the 10-s clip and of the 10-min track (default bitrate), against
  ``opusenc --bitrate 12`` and ``opusdec``;
* decode of the 10-min track on one core (``taskset -c 0``);
* ``--clips`` 10-s clips encoded with ``aecodec encode DIR -o OUT -j 2`` against a two-job
  loop of opusenc (``xargs -P 2``).

Prints a markdown table (seconds and x real time). Run it on an idle machine: other work on
the cores changes every figure.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def wall(cmd: list[str], *, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("track", type=Path)
    p.add_argument("--out", type=Path, default=Path("runs/wall"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--long-minutes", type=float, default=10.0)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    x, rate = sf.read(a.track, dtype="float32", always_2d=True)
    short = a.out / "clip10.wav"
    sf.write(short, x[: 10 * rate], rate, subtype="PCM_16")
    n_long = int(a.long_minutes * 60 * rate)
    long = a.out / "long.wav"
    sf.write(long, np.resize(x, (n_long, x.shape[1])), rate, subtype="PCM_16")
    aec = [sys.executable, "-m", "aecodec"]
    rows: list[tuple[str, float, float]] = []

    def add(name: str, cmd: list[str], seconds: float, repeat: int = a.repeat) -> None:
        t = wall(cmd, repeat=repeat)
        rows.append((name, t, seconds / t if seconds else float("nan")))
        print(f"{name}: {t:.2f} s", file=sys.stderr)

    add("aecodec --help", [*aec, "--help"], 0)
    for label, src, secs in (("10 s", short, 10.0), (f"{a.long_minutes:g} min", long, n_long / rate)):
        stem = src.with_suffix("")
        rep = a.repeat if secs <= 60 else max(1, a.repeat - 1)
        add(f"aecodec encode {label}", [*aec, "encode", str(src), f"{stem}.aec", "-f"], secs, rep)
        if label == "10 s":
            add("aecodec info", [*aec, "info", f"{stem}.aec"], 0)
        add(f"aecodec decode {label}", [*aec, "decode", f"{stem}.aec", f"{stem}.dec.wav", "-f"],
            secs, rep)
        if shutil.which("opusenc"):
            add(f"opusenc --bitrate 12 {label}", ["opusenc", "--quiet", "--bitrate", "12",
                                                  str(src), f"{stem}.opus"], secs, rep)
            add(f"opusdec {label}", ["opusdec", "--quiet", f"{stem}.opus", f"{stem}.opus.wav"],
                secs, rep)
        if label != "10 s" and shutil.which("taskset"):
            add(f"aecodec decode {label}, one core (taskset -c 0)",
                ["taskset", "-c", "0", *aec, "decode", f"{stem}.aec", f"{stem}.dec.wav", "-f"],
                secs, 1)
    if a.clips:
        clips = a.out / "clips"  # only the WAVs: an earlier run's outputs would be inputs too
        shutil.rmtree(clips, ignore_errors=True)
        clips.mkdir()
        for i in range(a.clips):
            start = (i * 7 * rate) % max(1, len(x) - 10 * rate)
            sf.write(clips / f"c{i:03d}.wav", x[start:start + 10 * rate], rate, subtype="PCM_16")
        out = a.out / "clips_aec"
        shutil.rmtree(out, ignore_errors=True)
        add(f"aecodec encode {a.clips} x 10 s -j 2",
            [*aec, "encode", str(clips), "-o", str(out), "-j", "2", "-f"], 10.0 * a.clips, 1)
        if shutil.which("opusenc"):
            opus = a.out / "clips_opus"
            shutil.rmtree(opus, ignore_errors=True)
            opus.mkdir()
            loop = ["bash", "-c", (f"cd {clips} && ls *.wav | xargs -P 2 -I{{}} opusenc --quiet "
                                   f"--bitrate 12 {{}} {opus}/{{}}.opus")]
            add(f"opusenc {a.clips} x 10 s, 2 jobs", loop, 10.0 * a.clips, 1)
    print("| command | wall s | x real time |\n|---|---|---|")
    for name, t, xrt in rows:
        print(f"| {name} | {t:.2f} | {'-' if math.isnan(xrt) else f'{xrt:.0f}x'} |")


if __name__ == "__main__":
    main()
