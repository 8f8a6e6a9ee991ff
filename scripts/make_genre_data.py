#!/usr/bin/env python3
"""Build the labelled genre dataset from the classification sources (shared/data/SOURCES.md).

    python scripts/make_genre_data.py [SRC_DIR] [OUT_DIR]
    # defaults: /work/data/heldout  /work/data/genres

SRC_DIR holds one extracted Debian package per folder (``scripts/fetch_data.sh DEST heldout``).
Every whole track becomes ``OUT_DIR/<label>/<package>__<track>.wav`` (mono, 22050 Hz, 16-bit):
Frets on Fire songs are ``song.ogg`` mixed with their ``guitar.ogg``/``rhythm.ogg`` stems,
tracker modules (``.it .s3m .mod .xm``) are rendered with ffmpeg (libopenmpt) under a timeout.
Leading and trailing silence is trimmed; tracks then shorter than 30 s (jingles, sound
effects) and near-silent tracks are skipped.
``OUT_DIR/tracks.csv`` lists ``path,label,source,seconds`` (``source`` = the package, for
leave-one-source-out evaluation); ``aecodec train-classifier OUT_DIR/tracks.csv`` reads it.
Deterministic: tracks are processed in sorted order and existing WAVs are rebuilt.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.dsp.audio import mixdown, write_wav
from aecodec.dsp.resample import resample

RATE = 22050
MIN_TRACK_S = 30.0
SILENT_RMS = 10 ** (-50 / 20)  # -50 dBFS over the whole track
TRIM_RMS = 10 ** (-60 / 20)  # -60 dBFS in a 93-ms window
RENDER_TIMEOUT_S = 60
STEMS = ("guitar.ogg", "rhythm.ogg")
TRACKER_SUFFIXES = (".it", ".s3m", ".mod", ".xm")

# package -> (label, glob patterns under the package folder)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "wesnoth-1.16-music": ("orchestral", ("**/music/*.ogg",)),
    "marsshooter-data": ("rock-metal", ("**/audio/*.ogg", "**/audio/music/*.ogg")),
    "fretsonfire-songs-muldjord": ("rock-metal", ("**/song.ogg",)),
    "nexuiz-music": ("electronic", ("**/music.pk3.d/**/*.ogg",)),
    "pingus-data": ("chiptune", ("**/music/*.it", "**/music/*.s3m")),
    "tuxmath-data": ("chiptune", ("**/*.mod",)),
    "fb-music-high": ("chiptune", ("**/*.xm",)),
}


def render(module: Path, tmp: Path) -> Path | None:
    """Render a tracker module to mono 22050 Hz WAV; None if ffmpeg fails or hangs."""
    out = tmp / f"render-{module.stem}.wav"
    cmd = ["timeout", str(RENDER_TIMEOUT_S), "ffmpeg", "-nostdin", "-v", "error", "-y",
           "-threads", "1", "-i", str(module), "-ac", "1", "-ar", str(RATE), str(out)]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        print(f"skip {module}: ffmpeg failed or timed out", file=sys.stderr)
        return None
    return out


def load_mono(path: Path) -> np.ndarray:
    """Mono float32 at 22050 Hz."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(mixdown(data), orig_rate=int(rate), new_rate=RATE)


def load_track(path: Path, tmp: Path) -> np.ndarray | None:
    """The whole track as mono 22050 Hz (stems mixed in, modules rendered), or None."""
    if path.suffix.lower() in TRACKER_SUFFIXES:
        rendered = render(path, tmp)
        if rendered is None:
            return None
        x = load_mono(rendered)
        rendered.unlink()
        return x
    x = load_mono(path)
    if path.name == "song.ogg":
        for stem in STEMS:
            if (path.parent / stem).exists():
                s = load_mono(path.parent / stem)
                n = min(len(s), len(x))
                x = x[:n] + s[:n]
    peak = float(np.abs(x).max()) if x.size else 0.0
    return x / peak * 0.95 if peak > 1.0 else x


def trim_silence(x: np.ndarray, *, window: int = 2048) -> np.ndarray:
    """Drop leading and trailing stretches quieter than -60 dBFS (tracker modules often render
    a minute of digital silence after their last pattern)."""
    n = len(x) // window
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * window].astype(np.float64).reshape(n, window) ** 2, axis=1))
    loud = np.nonzero(rms > TRIM_RMS)[0]
    if loud.size == 0:
        return x[:0]
    return x[loud[0] * window: (loud[-1] + 1) * window]


def track_name(path: Path) -> str:
    # Frets on Fire keeps every song as <song>/song.ogg: name it by its folder
    return path.parent.name if path.stem == "song" else path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, nargs="?", default=Path("/work/data/heldout"))
    parser.add_argument("out", type=Path, nargs="?", default=Path("/work/data/genres"))
    args = parser.parse_args(argv)
    missing = [p for p in PACKAGES if not (args.src / p).is_dir()]
    if missing:
        parser.error(f"{args.src} lacks package folders: {', '.join(missing)}")
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="genres-") as tmp:
        for package, (label, patterns) in PACKAGES.items():
            paths = sorted({p for pat in patterns for p in (args.src / package).glob(pat)
                            if p.is_file()})
            for path in paths:
                x = load_track(path, Path(tmp))
                if x is None:
                    continue
                x = trim_silence(x)
                seconds = len(x) / RATE
                if seconds < MIN_TRACK_S:
                    print(f"skip {path}: {seconds:.1f} s < {MIN_TRACK_S:.0f} s", file=sys.stderr)
                    continue
                if float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) < SILENT_RMS:
                    print(f"skip {path}: silent", file=sys.stderr)
                    continue
                rel = Path(label) / f"{package}__{track_name(path)}.wav"
                (args.out / label).mkdir(parents=True, exist_ok=True)
                write_wav(args.out / rel, x, rate=RATE, subtype="PCM_16")
                rows.append({"path": str(rel), "label": label, "source": package,
                             "seconds": f"{seconds:.2f}"})
                print(f"{rel}  {seconds:6.1f} s", flush=True)
    with open(args.out / "tracks.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "source", "seconds"])
        writer.writeheader()
        writer.writerows(rows)
    by_label: dict[str, list[float]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(float(r["seconds"]))
    for label, secs in sorted(by_label.items()):
        print(f"{label:12s} {len(secs):3d} tracks {sum(secs) / 60:6.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
