#!/usr/bin/env python3
"""Side-layer genre features (high band, stereo image) of every genre-set track, from its source.

    python scripts/genre_side_set.py --data data/genre_set/tracks.csv \
        --roots data/genre data/heldout --out runs/side.npz [--vorbis-q 3]

The genre set's WAVs are mono 22.05 kHz; the high-band and stereo layers need the source at
its own rate and channels, so each track is read again from its package file (``track`` column
of ``tracks.csv``): Frets on Fire songs with their stems, tracker modules rendered by ffmpeg
(libopenmpt) at 44.1 kHz stereo under ``timeout``. Leading/trailing silence is trimmed as the
genre set does, the middle 40 s kept, and :func:`aecodec.genre.side.audio_side` (the encoder's
analysis) turns it into :func:`aecodec.genre.side.side_features`. Writes one ``.npz`` (no
pickle) mapping the genre-set file name to its feature vector.

Every non-module source is a lossy Vorbis (or MP3) file whose encoder low-passed it (and may
have simplified its stereo); a module rendered straight to PCM is not. ``--vorbis-q Q`` also
writes ``OUT`` with ``-vorbis`` in its name, where each module render went through libvorbis
at quality ``Q`` first, so that "was it lossy-coded" cannot stand for "is it a module".
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_genre_set import RENDER_TIMEOUT_S, TRACKER_SUFFIXES, read_with_stems

from aecodec.genre.side import audio_side, side_features

EXCERPT_SECONDS = 40.0
TRIM_DB = -60.0


def render(path: Path, tmp: Path, *, vorbis_q: float | None) -> tuple[np.ndarray, int] | None:
    out = tmp / "render.wav"
    cmd = ["timeout", str(RENDER_TIMEOUT_S), "ffmpeg", "-nostdin", "-v", "error", "-y",
           "-threads", "1", "-i", str(path), "-ac", "2", "-ar", "44100", str(out)]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        return None
    if vorbis_q is not None:
        ogg = tmp / "render.ogg"
        cmd = ["timeout", str(RENDER_TIMEOUT_S), "ffmpeg", "-nostdin", "-v", "error", "-y",
               "-threads", "1", "-i", str(out), "-c:a", "libvorbis", "-q:a", str(vorbis_q),
               str(ogg)]
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            return None
        out = ogg
    data, rate = sf.read(str(out), dtype="float32", always_2d=True)
    return data, int(rate)


def excerpt(x: np.ndarray, rate: int) -> np.ndarray:
    """Trim leading/trailing 2048-sample windows under -60 dBFS RMS (of the mono mix), keep
    the middle ``EXCERPT_SECONDS``."""
    mono = x.mean(1).astype(np.float64)
    win = 2048
    n = len(mono) // win
    if n:
        rms = np.sqrt((mono[:n * win].reshape(n, win) ** 2).mean(1))
        loud = np.nonzero(rms >= 10 ** (TRIM_DB / 20))[0]
        if len(loud):
            x = x[loud[0] * win:(loud[-1] + 1) * win]
    m = int(EXCERPT_SECONDS * rate)
    return x[max(0, (len(x) - m) // 2):][:m]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--roots", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vorbis-q", type=float, default=None)
    ap.add_argument("--part", default="0/1", help="K/N: every N-th row from K (then merge npz)")
    args = ap.parse_args(argv)
    k, n = (int(v) for v in args.part.split("/"))
    with open(args.data, newline="") as f:
        rows = list(csv.DictReader(f))[k::n]
    feats: dict[str, np.ndarray] = {}
    feats_v: dict[str, np.ndarray] = {}
    info: list[str] = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        for i, r in enumerate(rows):
            pkg, rest = r["track"].split("/", 1)
            src = next((root / pkg / rest for root in args.roots
                        if (root / pkg / rest).is_file()), None)
            name = Path(r["path"]).name
            if src is None:
                print(f"missing {r['track']}", file=sys.stderr)
                continue
            module = src.suffix.lower() in TRACKER_SUFFIXES
            got = render(src, Path(td), vorbis_q=None) if module else read_with_stems(src)
            if got is None:
                print(f"unreadable {src}", file=sys.stderr)
                continue
            x = excerpt(*got)
            feats[name] = side_features(*audio_side(x, got[1]))
            info.append(f"{name}\t{got[1]}\t{got[0].shape[1]}")
            if args.vorbis_q is not None:
                if module:
                    v = render(src, Path(td), vorbis_q=args.vorbis_q)
                    if v is None:
                        print(f"vorbis failed {src}", file=sys.stderr)
                        continue
                    feats_v[name] = side_features(*audio_side(excerpt(*v), v[1]))
                else:
                    feats_v[name] = feats[name]
            if (i + 1) % 10 == 0:
                print(f"{i + 1}/{len(rows)} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **feats)
    if args.vorbis_q is not None:
        np.savez(args.out.with_name(args.out.stem + "-vorbis.npz"), **feats_v)
    args.out.with_suffix(".tsv").write_text("\n".join(info) + "\n")
    print(f"{len(feats)} files in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
