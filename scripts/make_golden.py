"""Write the golden files the test suite pins: tests/data/golden.aec and golden.json.

    python scripts/make_golden.py            # after shipping a new default model

golden-source.wav is 6.5 s of stereo music (Wesnoth "Northerners", GPL-2+, see
tests/data/README.md). The .aec file, once committed, must keep decoding in every later version
(or be refused with a clear 'unsupported version' error): never regenerate it to make a failing
test pass; add a new golden file next to it instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from aecodec.bench.metrics import all_metrics
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.dsp.audio import read_audio
from aecodec.model.registry import load_model

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    src = read_audio(DATA / "golden-source.wav")
    enc = encode_audio(src, kbps=3.0, model=load_model("aecodec-v1"))
    data = enc.to_bytes()
    (DATA / "golden.aec").write_bytes(data)
    out, rate, _ = decode_audio(data)
    ref = src.samples.mean(axis=1)
    metrics = all_metrics(ref, out.mean(axis=1), rate=rate)
    (DATA / "golden.json").write_text(json.dumps({
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "meta": enc.meta,
        "decoded": {"rate": rate, "shape": list(out.shape),
                    "rms": float(np.sqrt(np.mean(out ** 2))),
                    **{k: round(v, 4) for k, v in metrics.items()}},
    }, indent=1, sort_keys=True) + "\n")
    print(f"golden.aec: {len(data)} bytes; decoded vs source: {metrics}")


if __name__ == "__main__":
    main()
