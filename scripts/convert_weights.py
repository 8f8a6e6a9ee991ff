"""Convert torch ``.pt`` weights files (codec models, genre classifiers) to ``.npz``.

    python scripts/convert_weights.py models/aecodec-v1-fa354cc04e07.pt [more.pt ...] \
        [--out models] [--check]

Each ``<model_id>-<sha12>.pt`` (a ``torch.save`` of plain dicts, loaded ``weights_only``)
becomes ``<model_id>-<sha12'>.npz`` (:mod:`aecodec.model.npz_weights`): the same arrays in
their stored dtype (float16 stays float16, so the weights are bit-identical), the same
config/info/labels/codec fields as JSON, and ``converted_from`` naming the ``.pt`` file and its
full sha256 - the hash existing ``.aec`` files name, which stays the model's identity.
The output is deterministic: converting twice writes the same file. Needs torch.
``--check`` reloads both files and compares every array exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from aecodec.model.npz_weights import CLASSIFIER_KIND, WEIGHTS_KIND, load_npz, save_npz


def convert(src: Path, out_dir: Path, *, check: bool = False) -> Path:
    """Write the ``.npz`` twin of the ``.pt`` file ``src`` into ``out_dir``; return its path."""
    import torch

    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not src.stem.endswith("-" + digest[:12]):
        raise SystemExit(f"{src}: sha256 {digest[:12]} does not match the name; not converted")
    blob = torch.load(src, map_location="cpu", weights_only=True)
    kind = CLASSIFIER_KIND if blob.get("kind") == CLASSIFIER_KIND else WEIGHTS_KIND
    state = {k: v.detach().cpu().numpy() for k, v in blob["state"].items()}
    header = {k: v for k, v in blob.items() if k != "state"}
    header.update(kind=kind, converted_from={"file": src.name, "sha256": digest})
    path = save_npz(header, state, out_dir, model_id=blob["model_id"])
    if check:
        got_header, got = load_npz(path, kind=kind)
        assert got_header["sha256"] == digest, "identity must stay the .pt hash"
        assert set(got) == set(state)
        for k, v in state.items():
            assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: beside)")
    ap.add_argument("--check", action="store_true", help="reload and compare every array")
    args = ap.parse_args(argv)
    for src in args.files:
        path = convert(src, args.out or src.parent, check=args.check)
        print(f"{src} -> {path}" + (" (checked: arrays identical)" if args.check else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
