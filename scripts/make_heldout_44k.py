#!/usr/bin/env python3
"""Cut the two held-out 44.1 kHz codec clip sets: full band (mono) and genuinely stereo.

    python scripts/make_heldout_44k.py [--heldout DIR] [--genre DIR] [--fb-out DIR]
        [--stereo-out DIR] [--fb-count 16] [--stereo-count 10] [--seconds 10]
    # defaults: data/heldout  data/genre  data/heldout_fb  data/heldout_stereo

Sources: only music the codec never trains on: the classification sources
(``scripts/fetch_data.sh DEST heldout`` -> ``DEST/heldout/<package>/``) and the single-genre
packages of the multi-artist genre set (``scripts/fetch_genre_data.sh DEST`` ->
``DEST/genre/<package>/``), both listed in ``../shared/data/SOURCES.md``; a package of the codec
training pool is refused. Packages that are missing are skipped with a note.

How a track is read: OGG/WAV files are read with soundfile; tracker modules (``.it .mod .s3m
.xm .stm``) are rendered with ffmpeg (libopenmpt) at 44.1 kHz stereo under a 120-s timeout
(the first 100 s only); Frets on Fire songs are ``song.ogg`` plus its ``guitar.ogg`` /
``rhythm.ogg`` stems. A source whose own rate is below 44.1 kHz is never used (it has no
band above 11 kHz to measure); 48 kHz sources are resampled to 44.1 kHz (scipy polyphase).
Tracks shorter than 30 s (sound effects, jingles) are skipped.

Which 10-s window: the first of the offsets 30 s, then the middle of the track, then 10 s,
whose mono mix is louder than -35 dBFS RMS and that passes the set's test:

* full band (``--fb-out``, mono mix ``(L + R) / 2``): the energy of the 11-20 kHz band is at
  least -40 dB relative to the clip's total energy (one FFT over the whole clip), i.e.
  ``hf_db = 10 log10(E[11k, 20k] / E[0, 22.05k]) >= -40``;
* stereo (``--stereo-out``, both channels kept): a two-channel source whose L/R correlation
  ``sum(L R) / sqrt(sum L^2 sum R^2)`` over the clip is below 0.95 (and its side/mid energy
  ratio above -30 dB, so it is not a near-mono file with a tiny offset).

Which tracks: the qualifying clips are shared out round robin over the genres (the package's
dominant genre in ``PACKAGES``; only a hint for spreading the set, the genre set manifest of
``scripts/make_genre_set.py`` is the labelled reference), then round robin over the genre's
packages, then evenly spaced over each package's qualifying tracks sorted by path, so the
selection is deterministic. Clips are written as 16-bit WAV at 44.1 kHz, named
``<genre>__<package>__<track>.wav`` (scaled down only if a stem mix would clip), and
``clips.tsv`` in each folder lists the source file, offset, ``hf_db``, L/R correlation,
side/mid ratio and the bandwidth (highest 250-Hz band within 50 dB of the loudest one).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling script, run from anywhere
from make_genre_set import read_with_stems

RATE = 44100
MIN_TRACK_S = 30.0
LOUD_DBFS = -35.0
HF_MIN_DB = -40.0
HF_BAND = (11000.0, 20000.0)
CORR_MAX = 0.95
SIDE_MIN_DB = -30.0
RENDER_TIMEOUT_S = 120
RENDER_SECONDS = 100
TRACKER_SUFFIXES = (".it", ".mod", ".s3m", ".xm", ".stm")
TRAINING_POOL = ("warzone2100-music", "ufoai-music", "supertux-data", "hedgewars-data",
                 "singularity-music", "drascula-music", "fretsonfire-songs-sectoid",
                 "hyperrogue-music", "freedroidrpg-data")

# package -> (set folder, dominant genre, glob patterns under the package folder)
PACKAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "wesnoth-1.16-music": ("heldout", "orchestral", ("**/music/*.ogg",)),
    "lordsawar-data": ("genre", "orchestral", ("**/music/*.ogg",)),
    "ardentryst": ("genre", "orchestral", ("**/Music/*.ogg",)),
    "marsshooter-data": ("heldout", "rock-metal", ("**/audio/*.ogg", "**/audio/music/*.ogg")),
    "fretsonfire-songs-muldjord": ("heldout", "rock-metal", ("**/song.ogg",)),
    "wordwarvi-sound": ("genre", "rock-metal", ("**/sounds/*.ogg",)),
    "nexuiz-music": ("heldout", "electronic", ("**/music.pk3.d/**/*.ogg",)),
    "wizznic-data": ("genre", "electronic", ("**/data/menu-music.ogg", "**/music/*.ogg")),
    "starfighter-data": ("genre", "electronic", ("**/music/*.ogg",)),
    "pingus-data": ("heldout", "chiptune", ("**/music/*.it", "**/music/*.s3m")),
    "tuxmath-data": ("heldout", "chiptune", ("**/*.mod",)),
    "fb-music-high": ("heldout", "chiptune", ("**/*.xm",)),
    "tecnoballz-data": ("genre", "chiptune", ("**/musics/*.mod",)),
    "heroes-sound-tracks": ("genre", "chiptune", ("**/mod/*.xm",)),
    "biniax2-data": ("genre", "chiptune", ("**/music/*.it",)),
    "pekka-kana-2-data": ("genre", "chiptune", ("**/music/*.xm",)),
    "enigma-data": ("genre", "ambient", ("**/music/game/*.ogg",)),
}


@dataclass(frozen=True)
class Clip:
    package: str
    genre: str
    source: Path  # relative to the package folder
    offset_s: float
    audio: np.ndarray  # [samples, channels] float32 at RATE
    src_channels: int

    @property
    def name(self) -> str:
        stem = self.source.parent.name if self.source.stem == "song" else self.source.stem
        return f"{self.genre}__{self.package}__{stem.replace(' ', '_')}.wav"


def to_rate(x: np.ndarray, rate: int) -> np.ndarray:
    """Resample ``x`` [samples, channels] from ``rate`` to 44.1 kHz (polyphase)."""
    if rate == RATE:
        return x
    g = gcd(RATE, rate)
    return resample_poly(x, RATE // g, rate // g, axis=0).astype(np.float32)


def load(path: Path, tmp: Path) -> tuple[np.ndarray, int, int] | None:
    """The track [samples, channels], its rate and its source channel count, or None
    (unreadable, hung renderer, source rate below 44.1 kHz). Tracker modules come back
    rendered at 44.1 kHz stereo."""
    if path.suffix.lower() in TRACKER_SUFFIXES:
        out = tmp / "render.wav"
        cmd = ["timeout", str(RENDER_TIMEOUT_S), "ffmpeg", "-nostdin", "-v", "error", "-y",
               "-threads", "1", "-i", str(path), "-t", str(RENDER_SECONDS), "-ac", "2",
               "-ar", str(RATE), str(out)]
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            print(f"skip {path}: ffmpeg failed or timed out", file=sys.stderr)
            return None
        data, _ = sf.read(str(out), dtype="float32", always_2d=True)
        return data, RATE, 2
    try:
        if sf.info(str(path)).samplerate < RATE:
            return None
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        print(f"skip {path}: {exc}", file=sys.stderr)
        return None
    read = read_with_stems(path)
    if read is None:
        return None
    data, rate = read
    return data, rate, data.shape[1]


def measures(x: np.ndarray) -> dict[str, float]:
    """hf_db, rms_dbfs, bandwidth (Hz) of the mono mix; L/R correlation and side/mid dB.

    ``x``: [samples, channels] at 44.1 kHz.
    """
    mono = x.mean(axis=1).astype(np.float64)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1 / RATE)
    band = (freqs >= HF_BAND[0]) & (freqs < HF_BAND[1])
    total = float(power.sum()) + 1e-30
    edges = np.arange(0, RATE / 2, 250.0)
    idx = np.digitize(freqs, edges) - 1
    bands = np.bincount(idx, weights=power, minlength=len(edges))[: len(edges)]
    loud = np.nonzero(bands >= bands.max() * 1e-5)[0]
    out = {"hf_db": 10 * np.log10(float(power[band].sum()) / total + 1e-30),
           "rms_dbfs": 10 * np.log10(float(np.mean(mono**2)) + 1e-30),
           "bandwidth_hz": float(edges[loud[-1]] + 250.0),
           "lr_corr": 1.0, "side_mid_db": -120.0}
    if x.shape[1] == 2:
        left, right = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
        out["lr_corr"] = float(np.sum(left * right)
                               / (np.sqrt(np.sum(left**2) * np.sum(right**2)) + 1e-30))
        side, mid = np.sum((left - right) ** 2), np.sum((left + right) ** 2) + 1e-30
        out["side_mid_db"] = float(10 * np.log10(side / mid + 1e-30))
    return out


def passes(m: dict[str, float], kind: str, src_channels: int) -> bool:
    if m["rms_dbfs"] < LOUD_DBFS:
        return False
    if kind == "fb":
        return m["hf_db"] >= HF_MIN_DB
    return src_channels == 2 and m["lr_corr"] < CORR_MAX and m["side_mid_db"] > SIDE_MIN_DB


def candidates(root: Path, package: str, seconds: float, tmp: Path,
               ) -> dict[str, list[tuple[Clip, dict[str, float]]]]:
    """Per set kind ("fb", "stereo"), the first qualifying window of each track of ``package``."""
    _, genre, patterns = PACKAGES[package]
    paths = sorted({p for pat in patterns for p in (root / package).glob(pat) if p.is_file()})
    found: dict[str, list[tuple[Clip, dict[str, float]]]] = {"fb": [], "stereo": []}
    n = int(seconds * RATE)
    for path in paths:
        loaded = load(path, tmp)
        if loaded is None or len(loaded[0]) < MIN_TRACK_S * loaded[1]:
            continue
        data, rate, src_channels = loaded
        dur = len(data) / rate
        for kind, clips in found.items():
            for offset in (30.0, (dur - seconds) / 2, 10.0):
                start = int(min(offset, dur - seconds) * rate)
                window = to_rate(data[start:start + int(seconds * rate)].copy(), rate)[:n]
                m = measures(window)
                if passes(m, kind, src_channels):
                    clip = Clip(package, genre, path.relative_to(root / package),
                                start / rate, window, src_channels)
                    clips.append((clip, m))
                    break
        del data
    return found


def evenly_spaced(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (all of them if ``k >= n``)."""
    return list(range(n)) if k >= n else [int((i + 0.5) * n / k) for i in range(k)]


def select(pool: dict[str, list[tuple[Clip, dict[str, float]]]], count: int,
           ) -> list[tuple[Clip, dict[str, float]]]:
    """``count`` clips shared round robin over genres, then packages, then evenly spaced."""
    quota = dict.fromkeys(pool, 0)
    genres = sorted({PACKAGES[p][1] for p in pool})
    while sum(quota.values()) < count:
        grew = False
        for genre in genres:
            pkgs = [p for p in pool if PACKAGES[p][1] == genre and quota[p] < len(pool[p])]
            if pkgs and sum(quota.values()) < count:
                quota[min(pkgs, key=lambda p: (quota[p], list(pool).index(p)))] += 1
                grew = True
        if not grew:
            break
    return [pool[p][i] for p in pool for i in evenly_spaced(len(pool[p]), quota[p])]


def write(out: Path, chosen: list[tuple[Clip, dict[str, float]]], *, mono: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.wav"):
        old.unlink()
    rows = ["file\tgenre\tpackage\tsource\toffset_s\thf_db\tlr_corr\tside_mid_db\tbandwidth_hz"]
    for clip, m in chosen:
        audio = clip.audio.mean(axis=1) if mono else clip.audio
        peak = float(np.max(np.abs(audio)))
        audio = audio / peak * 0.99 if peak > 0.99 else audio
        sf.write(str(out / clip.name), audio, RATE, subtype="PCM_16")
        rows.append(f"{clip.name}\t{clip.genre}\t{clip.package}\t{clip.source}\t"
                    f"{clip.offset_s:.3f}\t{m['hf_db']:.1f}\t{m['lr_corr']:.3f}\t"
                    f"{m['side_mid_db']:.1f}\t{m['bandwidth_hz']:.0f}")
    (out / "clips.tsv").write_text("\n".join(rows) + "\n")
    print(f"{len(chosen)} clips in {out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, default=Path("data/heldout"))
    parser.add_argument("--genre", type=Path, default=Path("data/genre"))
    parser.add_argument("--fb-out", type=Path, default=Path("data/heldout_fb"))
    parser.add_argument("--stereo-out", type=Path, default=Path("data/heldout_stereo"))
    parser.add_argument("--fb-count", type=int, default=16)
    parser.add_argument("--stereo-count", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.fb_count < 1 or args.stereo_count < 1 or args.seconds <= 0:
        parser.error("--fb-count and --stereo-count must be >= 1, --seconds > 0")
    if set(PACKAGES) & set(TRAINING_POOL):
        parser.error("a codec training package is in PACKAGES")
    roots = {"heldout": args.heldout, "genre": args.genre}
    pools: dict[str, dict[str, list[tuple[Clip, dict[str, float]]]]] = {"fb": {}, "stereo": {}}
    with tempfile.TemporaryDirectory(prefix="heldout44k-") as tmp:
        for package, (where, _, _) in PACKAGES.items():
            if not (roots[where] / package).is_dir():
                print(f"note: {roots[where] / package} missing, skipped", file=sys.stderr)
                continue
            found = candidates(roots[where], package, args.seconds, Path(tmp))
            for kind, clips in found.items():
                pools[kind][package] = clips
            print(f"{package}: {len(found['fb'])} full-band, {len(found['stereo'])} stereo "
                  "candidates", file=sys.stderr)
    write(args.fb_out, select(pools["fb"], args.fb_count), mono=True)
    write(args.stereo_out, select(pools["stereo"], args.stereo_count), mono=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
