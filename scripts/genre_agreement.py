#!/usr/bin/env python3
"""Do a WAV and its ``.aec`` get the same genre? Agreement at 3, 6 and 12 kbps.

    python scripts/genre_agreement.py FILES_OR_DIRS... [--kbps 3,6,12] [--model PATH|ID]
        [--seconds 20] [--json OUT]

Each input (audio; folders searched for .wav/.ogg/.flac) is cut to its middle ``--seconds``
(its own rate and channels, so the high-band and stereo layers a classifier may read are
there; ``--mono``: mixed down, as before) into a temporary WAV, classified (``classify_file``: the latent a default
encode would store), encoded with ``aecodec.files.encode_file`` at each bitrate and the
``.aec`` classified from its latent (no decoding). Prints the agreement per bitrate and the
files that disagree; ``--json`` keeps every label and probability. Single-threaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.files.ops import encode_file
from aecodec.genre.head import classify_file, find_classifier, load_classifier

SUFFIXES = (".wav", ".ogg", ".flac")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--kbps", default="3,6,12")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--mono", action="store_true", help="mix each excerpt down to mono")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    files = sorted(p for x in args.inputs for p in ([x] if x.is_file() else x.rglob("*"))
                   if p.suffix.lower() in SUFFIXES)
    head, meta = load_classifier(find_classifier(args.model))
    rates = [float(k) for k in args.kbps.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="genre-agree-") as tmp:
        for n, src in enumerate(files):
            x, rate = sf.read(str(src), dtype="float32", always_2d=True)
            k = int(args.seconds * rate)
            x = x[max(0, (len(x) - k) // 2):][:k]
            x = x.mean(axis=1) if args.mono else x[:, :2]
            wav = Path(tmp) / f"{n}.wav"
            sf.write(str(wav), x, rate, subtype="PCM_16")
            ref = classify_file(wav, head=head, meta=meta)
            row = {"file": str(src), "wav": ref["label"], "p": ref["probability"]}
            for kbps in rates:
                aec = Path(tmp) / f"{n}-{kbps:g}.aec"
                encode_file(wav, aec, kbps=kbps, force=True)
                got = classify_file(aec, head=head, meta=meta)
                row[f"{kbps:g}"] = got["label"]
                row[f"p{kbps:g}"] = got["probability"]
            rows.append(row)
            print(f"{src.name}: wav {row['wav']} " + " ".join(
                f"{kbps:g}:{row[f'{kbps:g}']}" for kbps in rates), file=sys.stderr, flush=True)
    report = {"model": meta["path"], "files": len(rows), "seconds": args.seconds,
              "mono": args.mono,
              "agreement": {f"{kbps:g}": sum(r[f"{kbps:g}"] == r["wav"] for r in rows)
                            / max(1, len(rows)) for kbps in rates}, "rows": rows}
    for kbps in rates:
        print(f"{kbps:g} kbps: {report['agreement'][f'{kbps:g}']:.3f} of {len(rows)} files agree")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
