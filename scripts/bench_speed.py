"""Throughput on one track: aecodec encode/decode vs opusenc/opusdec and lame, same session.

    python scripts/bench_speed.py TRACK.wav [--repeat 3] [--iters 32]

Model load is timed separately (it happens once per process). Every codec runs ``--repeat``
times; the best wall time is reported as a real-time factor (audio seconds per wall second).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import soundfile as sf


def best_of(n: int, fn: object) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("track", type=Path)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--iters", type=int, default=32)
    a = p.parse_args()
    seconds = sf.info(a.track).duration
    t0 = time.perf_counter()
    from aecodec.files.ops import decode_file, encode_file
    from aecodec.model.registry import load_model
    load_model()
    load_s = time.perf_counter() - t0
    rows = [("aecodec model load (numpy/scipy import + weights)", load_s, None)]
    with tempfile.TemporaryDirectory() as tmp:
        aec, wav = Path(tmp) / "x.aec", Path(tmp) / "x.wav"
        enc = best_of(a.repeat, lambda: encode_file(a.track, aec, force=True))
        dec = best_of(a.repeat, lambda: decode_file(aec, wav, force=True, iters=a.iters))
        rows += [("aecodec encode -b 6", enc, seconds / enc),
                 (f"aecodec decode (--iters {a.iters})", dec, seconds / dec)]
        if shutil.which("opusenc"):
            opus = Path(tmp) / "x.opus"
            run = subprocess.run
            e = best_of(a.repeat, lambda: run(["opusenc", "--quiet", "--bitrate", "12",
                                               str(a.track), str(opus)], check=True))
            d = best_of(a.repeat, lambda: run(["opusdec", "--quiet", str(opus), str(wav)],
                                              check=True))
            rows += [("opusenc --bitrate 12", e, seconds / e), ("opusdec", d, seconds / d)]
        if shutil.which("lame"):
            mp3 = Path(tmp) / "x.mp3"
            e = best_of(a.repeat, lambda: subprocess.run(
                ["lame", "--quiet", "-b", "32", str(a.track), str(mp3)], check=True))
            d = best_of(a.repeat, lambda: subprocess.run(
                ["lame", "--quiet", "--decode", str(mp3), str(wav)], check=True))
            rows += [("lame -b 32", e, seconds / e), ("lame --decode", d, seconds / d)]
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"track: {a.track.name}, {seconds:.1f} s; OMP_NUM_THREADS {threads}\n")
    print("| step | wall s | x real time |\n|---|---|---|")
    for name, wall, rt in rows:
        print(f"| {name} | {wall:.2f} | {'-' if rt is None else f'{rt:.0f}'} |")


if __name__ == "__main__":
    main()
