#!/usr/bin/env python3
"""Interleaved whole-process timing of two source trees: 10-s encode + decode, as a user runs it.

    python scripts/bench_ab.py CLIP.wav OLD_TREE NEW_TREE [--runs 10]

Each run encodes ``CLIP.wav`` and decodes the result with ``python -m aecodec`` (this
interpreter, the tree on ``PYTHONPATH``), the two trees in turn, so both see the same drift of
a shared machine. Prints, per tree and command, the minimum, first quartile and median wall
time and the minimum CPU time (user + system) of the child processes, then the pair's
minimum and first quartile. Compile both trees first (``python -m compileall -q TREE``) when
bytecode is not written at import (``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", type=Path)
    p.add_argument("trees", type=Path, nargs=2)
    p.add_argument("--runs", type=int, default=10)
    a = p.parse_args()
    out = Path(tempfile.mkdtemp(prefix="aecodec-ab-"))
    times: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for _ in range(a.runs):
        for i, tree in enumerate(a.trees):
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            aec, wav = out / f"{i}.aec", out / f"{i}.wav"
            for what, args in (("encode", [str(a.clip.resolve()), str(aec)]),
                               ("decode", [str(aec), str(wav)])):
                c, t = _cpu(), time.perf_counter()
                subprocess.run([sys.executable, "-m", "aecodec", what, *args, "-f", "-q"],
                               env=env, check=True, cwd=out)
                times.setdefault((i, what), []).append((time.perf_counter() - t, _cpu() - c))
    q = a.runs // 4
    for i, tree in enumerate(a.trees):
        pair = []
        for what in ("encode", "decode"):
            w = sorted(x[0] for x in times[(i, what)])
            cpu = min(x[1] for x in times[(i, what)])
            pair.append(w)
            print(f"{tree}  {what}: wall min {w[0]:.3f} q1 {w[q]:.3f} median {w[len(w) // 2]:.3f}"
                  f" s, cpu min {cpu:.3f} s")
        print(f"{tree}  encode + decode: min {pair[0][0] + pair[1][0]:.3f} s, "
              f"q1 {pair[0][q] + pair[1][q]:.3f} s")


if __name__ == "__main__":
    main()
