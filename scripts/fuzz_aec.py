"""Fuzz the decoder and ``info --verify`` with structure-aware mutations of real ``.aec`` files.

    python scripts/fuzz_aec.py --cases 3000 --seed 1 [SEED.aec ...]

Seeds default to ``tests/data/golden.aec`` and ``tests/data/fuzz/*.aec``; findings (anything
but success or a one-line AecError, a case over the time cap, or allocations over the memory
cap) are printed and written to ``--out`` as ``finding-N.aec``. The mutator and harness:
``tests/fuzz/aecmut.py``; figures of the long run: docs/robustness.md.
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.aecmut import decode_target, mutate, run_case


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds", nargs="*", type=Path)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=20.0, help="time cap per case")
    ap.add_argument("--memory-mb", type=float, default=512.0, help="traced memory cap per case")
    ap.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    args = ap.parse_args()
    seeds = args.seeds or [ROOT / "tests/data/golden.aec", *sorted((ROOT / "tests/data/fuzz").glob("*.aec"))]
    blobs = [p.read_bytes() for p in seeds]
    r = random.Random(args.seed)
    target = decode_target()
    counts: collections.Counter[str] = collections.Counter()
    findings = 0
    t0 = time.perf_counter()
    slowest = peak = 0.0
    for i in range(args.cases):
        data = mutate(blobs, r)
        res = run_case(target, data, seconds=args.seconds, memory_mb=args.memory_mb)
        slowest, peak = max(slowest, res.seconds), max(peak, res.peak_mb)
        counts[res.outcome if not res.outcome.startswith("FINDING") else "FINDING"] += 1
        if res.outcome.startswith("FINDING"):
            findings += 1
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"finding-{i}.aec").write_bytes(data)
            print(f"case {i}: {res.outcome}", flush=True)
        if (i + 1) % 200 == 0:
            print(f"{i + 1} cases, {findings} findings, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.cases} cases (seed {args.seed}, {len(blobs)} seed files) in "
          f"{time.perf_counter() - t0:.0f} s: {findings} findings; slowest case {slowest:.2f} s, "
          f"largest traced peak {peak:.1f} MB, process peak RSS {rss:.0f} MB")
    for k, v in counts.most_common():
        print(f"  {v:6d}  {k}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
