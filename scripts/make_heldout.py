#!/usr/bin/env python3
"""Cut the held-out clip set from the classification sources (see shared/data/SOURCES.md).

    python scripts/make_heldout.py SRC_DIR OUT_DIR [--per-label N] [--seconds 10] [--offset 30]

SRC_DIR holds one extracted Debian package per folder (``scripts/fetch_data.sh DEST heldout``
makes ``DEST/heldout/<package>/``). For each label, N clips are shared out among its packages
(round robin, as far as each has tracks). Tracks shorter than 30 s (sound effects, jingles)
and clips that are silent are skipped; the remaining tracks are sorted by path and picked
evenly spaced, so the selection is deterministic. Each clip is ``--seconds`` long from
``--offset`` s into the track (earlier if the track is too short), mixed to mono, resampled
to 22050 Hz and written as 16-bit WAV ``<label>__<package>__<track>.wav``; ``clips.tsv``
lists where each came from. Tracker modules are rendered first with ffmpeg (libopenmpt).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from aecodec.dsp.audio import mixdown, write_wav
from aecodec.dsp.resample import resample

RATE = 22050
MIN_TRACK_S = 30.0
SILENT_RMS = 10 ** (-50 / 20)  # -50 dBFS
RENDER_TIMEOUT_S = 60

# package -> (label, glob patterns under the package folder)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "wesnoth-1.16-music": ("orchestral", ("**/music/*.ogg",)),
    "marsshooter-data": ("rock-metal", ("**/audio/*.ogg", "**/audio/music/*.ogg")),
    "fretsonfire-songs-muldjord": ("rock-metal", ("**/song.ogg",)),  # not the guitar.ogg stems
    "nexuiz-music": ("electronic", ("**/music.pk3.d/**/*.ogg",)),
    "pingus-data": ("chiptune", ("**/*.it",)),
    "tuxmath-data": ("chiptune", ("**/*.mod",)),
    "fb-music-high": ("chiptune", ("**/*.xm",)),
}
TRACKER_SUFFIXES = (".it", ".mod", ".xm", ".s3m")


@dataclass(frozen=True)
class Track:
    package: str
    label: str
    path: Path  # the source file
    audio_path: Path  # a file soundfile reads (the rendering, for tracker modules)

    @property
    def name(self) -> str:
        # fretsonfire keeps every song as <song>/song.ogg: name it by its folder
        return self.path.parent.name if self.path.stem == "song" else self.path.stem


def render(module: Path, tmp: Path) -> Path | None:
    """Render a tracker module to mono 22050 Hz WAV; None if ffmpeg fails or hangs."""
    out = tmp / f"{module.parent.name}__{module.name}.wav"
    cmd = ["timeout", str(RENDER_TIMEOUT_S), "ffmpeg", "-nostdin", "-v", "error", "-y",
           "-i", str(module), "-ac", "1", "-ar", str(RATE), str(out)]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        print(f"skip {module}: ffmpeg failed", file=sys.stderr)
        return None
    return out


def find_tracks(src: Path, package: str, tmp: Path) -> list[Track]:
    """Every source file of ``package`` (tracker modules rendered), sorted by path."""
    label, patterns = PACKAGES[package]
    paths = sorted({p for pat in patterns for p in (src / package).glob(pat) if p.is_file()})
    tracks = []
    for path in paths:
        audio = render(path, tmp) if path.suffix.lower() in TRACKER_SUFFIXES else path
        if audio is not None:
            tracks.append(Track(package, label, path, audio))
    return tracks


def cut(track: Track, *, seconds: float, offset: float) -> tuple[np.ndarray, float] | None:
    """The clip of ``track`` (mono float32 at 22050 Hz) and its start in seconds, or None if
    the track is too short or the clip silent."""
    try:
        info = sf.info(str(track.audio_path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        print(f"skip {track.path}: {exc}", file=sys.stderr)
        return None
    if info.duration < max(MIN_TRACK_S, seconds):
        return None
    start = int(min(offset, info.duration - seconds) * info.samplerate)
    data, rate = sf.read(str(track.audio_path), start=start,
                         frames=int(seconds * info.samplerate), dtype="float32", always_2d=True)
    clip = resample(mixdown(data), orig_rate=int(rate), new_rate=RATE)
    if float(np.sqrt(np.mean(clip.astype(np.float64) ** 2))) < SILENT_RMS:
        print(f"skip {track.path}: silent at {start / info.samplerate:.1f} s", file=sys.stderr)
        return None
    return clip, start / info.samplerate


def evenly_spaced(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (all of them if ``k >= n``)."""
    if k >= n:
        return list(range(n))
    return [int((i + 0.5) * n / k) for i in range(k)]


def share(label: str, per_label: int, counts: dict[str, int]) -> dict[str, int]:
    """Split ``per_label`` clips round robin over the label's packages, capped by ``counts``."""
    packages = [p for p, (lab, _) in PACKAGES.items() if lab == label]
    quota = dict.fromkeys(packages, 0)
    while sum(quota.values()) < per_label:
        open_ = [p for p in packages if quota[p] < counts[p]]
        if not open_:
            break
        for p in open_:
            if sum(quota.values()) < per_label:
                quota[p] += 1
    return quota


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder of extracted packages")
    parser.add_argument("out", type=Path, help="output folder for the WAV clips")
    parser.add_argument("--per-label", "--per-source", dest="per_label", type=int, default=5,
                        help="clips per label, shared among its packages (default 5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--offset", type=float, default=30.0,
                        help="start of the clip in the track, seconds (default 30)")
    args = parser.parse_args(argv)
    if args.per_label < 1 or args.seconds <= 0 or args.offset < 0:
        parser.error("--per-label must be >= 1, --seconds > 0 and --offset >= 0")
    missing = [p for p in PACKAGES if not (args.src / p).is_dir()]
    if missing:
        parser.error(f"{args.src} lacks package folders: {', '.join(missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = ["file\tlabel\tpackage\tsource\toffset_s"]
    with tempfile.TemporaryDirectory(prefix="heldout-") as tmp:
        usable: dict[str, list[tuple[Track, tuple[np.ndarray, float]]]] = {}
        for package in PACKAGES:
            tracks = find_tracks(args.src, package, Path(tmp))
            clips = [(t, cut(t, seconds=args.seconds, offset=args.offset)) for t in tracks]
            usable[package] = [(t, c) for t, c in clips if c is not None]
        counts = {p: len(v) for p, v in usable.items()}
        for label in sorted({lab for lab, _ in PACKAGES.values()}):
            for package, k in share(label, args.per_label, counts).items():
                for i in evenly_spaced(counts[package], k):
                    track, (clip, start) = usable[package][i]
                    name = f"{label}__{package}__{track.name}.wav"
                    write_wav(args.out / name, clip, rate=RATE, subtype="PCM_16")
                    rel = track.path.relative_to(args.src / package)
                    rows.append(f"{name}\t{label}\t{package}\t{rel}\t{start:.3f}")
                    print(name)
    (args.out / "clips.tsv").write_text("\n".join(rows) + "\n")
    print(f"{len(rows) - 1} clips in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
