#!/usr/bin/env python3
"""Genre accuracy from ``.aec`` files against the base layer's bit budget.

    OMP_NUM_THREADS=1 python scripts/classify_base_check.py [--kbps 6] [--bases 1.5,0.75,0.5]

Encodes each held-out track of the shipped classifier (its ``val_tracks``) base layer only,
with every base-layer budget, and classifies it from the dequantized latent (the path
``aecodec classify song.aec`` takes). Prints per-track results and the accuracy per budget.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.codec import decode as codec
from aecodec.dsp.audio import read_audio
from aecodec.format.container import unpack
from aecodec.genre.head import find_classifier, load_classifier, segment_probs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--bases", default="1.5,0.75,0.5")
    a = ap.parse_args()
    head, meta = load_classifier(find_classifier(None))
    net = codec.load_model(meta["codec"]["id"], meta["codec"]["sha256"][:12])
    bases = [float(b) for b in a.bases.split(",")]
    right: dict[float, list[bool]] = {b: [] for b in bases}
    for path in meta["info"]["val_tracks"]:
        audio = read_audio(Path(path))
        label = Path(path).parent.name
        for base in bases:
            buf = io.BytesIO()
            codec.encode_blocks([audio.samples], buf, rate=audio.rate, channels=audio.channels,
                                length=audio.frames, kbps=a.kbps, model=net, base_kbps=base,
                                enhance=False)
            z, steps = codec.decode_latent(unpack(buf.getvalue()), net=net[0])
            probs = segment_probs(head, z, name=path, step=steps).mean(0)
            right[base].append(head.labels[int(probs.argmax())] == label)
        print(path, label, {b: r[-1] for b, r in right.items()}, flush=True)
    for base, r in right.items():
        print(f"base {base:g} kbps: {sum(r)}/{len(r)} = {np.mean(r):.3f}")


if __name__ == "__main__":
    main()
