"""Held-out check of the entropy tables: stream sizes under zstd vs the shipped ANS tables.

Usage: ``python scripts/entropy_check.py data/heldout_clips [--kbps 1.5,6,12]``. Each clip is
encoded with the zstd coder; its chunks' integers are then re-coded with the tables fitted for
the default model (real ANS coding, not an estimate), rate by rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aecodec.dsp.audio import read_audio
from aecodec.model.registry import load_model, tables_for
from aecodec.train.entropy import collect, measure


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--kbps", default="1.5,6,12")
    args = p.parse_args()
    model = load_model()
    tables = tables_for(model)
    if tables is None:
        raise SystemExit("the default model has no entropy tables")
    clips = [read_audio(f) for f in sorted(args.folder.glob("*.wav"))]
    for rate in (float(k) for k in args.kbps.split(",")):
        m = measure(collect(clips, model, kbps=[rate]), tables)
        lat = m["ans_latent_bytes"] / m["zstd_latent_bytes"]
        res = m["ans_residual_bytes"] / max(m["zstd_residual_bytes"], 1)
        print(f"{rate:g} kbps ({len(clips)} clips): latent {m['zstd_latent_bytes']} -> "
              f"{m['ans_latent_bytes']} bytes ({lat:.1%}), residual {m['zstd_residual_bytes']} "
              f"-> {m['ans_residual_bytes']} bytes ({res:.1%})", flush=True)


if __name__ == "__main__":
    main()
