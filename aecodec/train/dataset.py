"""Training data: find music in the codec training pool, decode it once to a cache, sample crops.

The pool is the Debian packages listed in ``../shared/data/SOURCES.md`` and fetched by
``scripts/fetch_data.sh``. The classification sources are held-out music: :func:`find_tracks`
refuses any path that names one of their packages, so the codec can never train on them.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecodec.dsp.audio import AUDIO_SUFFIXES, mixdown, read_audio
from aecodec.dsp.resample import resample
from aecodec.errors import AecError, InputError

HELDOUT_PACKAGES = ("wesnoth", "marsshooter", "fretsonfire-songs-muldjord", "nexuiz",
                    "pingus", "tuxmath", "fb-music-high")
"""Package names of the classification sources; never used to train the codec."""
MIN_TRACK_SECONDS = 30.0
"""Shorter files are sound effects, not music, and are skipped."""
STEMS = ("guitar.ogg", "rhythm.ogg", "drums.ogg", "bass.ogg")
"""Frets on Fire songs ship stems beside ``song.ogg``; they are mixed in, never used alone."""


def find_tracks(roots: list[Path]) -> list[Path]:
    """Sorted music files under ``roots`` (stems excluded); refuses held-out packages."""
    found: list[Path] = []
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            low = str(path).lower()
            if any(pkg in low for pkg in HELDOUT_PACKAGES):
                raise AecError(f"{path}: belongs to a classification source; "
                               "the codec must never train on held-out music")
            if path.suffix.lower() in AUDIO_SUFFIXES and path.name.lower() not in STEMS:
                found.append(path)
    return found


def load_track(path: Path, *, rate: int) -> np.ndarray | None:
    """Mono float32 audio at ``rate`` (stems mixed in), or None if shorter than 30 s/unreadable."""
    try:
        audio = read_audio(path)
    except InputError:
        return None
    if audio.duration < MIN_TRACK_SECONDS:
        return None
    x = mixdown(audio.samples)
    if path.name.lower() == "song.ogg":  # Frets on Fire: the backing track plus its stems
        for stem in STEMS:
            if (path.parent / stem).exists():
                s = mixdown(read_audio(path.parent / stem).samples)
                n = min(len(s), len(x))
                x = x[:n] + s[:n]
        x = x / max(1.0, float(np.abs(x).max()))
    return resample(x, orig_rate=audio.rate, new_rate=rate)


@dataclass(frozen=True)
class AudioCache:
    """All training audio concatenated as int16 at one rate, with track boundaries.

    Attributes
    ----------
    samples : np.ndarray  int16 ``[total]`` (memory-mapped)
    starts : np.ndarray  int64 ``[tracks + 1]`` boundaries into ``samples``
    rate : int
    names : list of str
    """

    samples: np.ndarray
    starts: np.ndarray
    rate: int
    names: list[str]

    @property
    def hours(self) -> float:
        return len(self.samples) / self.rate / 3600


def _load_job(args: tuple[str, int]) -> np.ndarray | None:
    return load_track(Path(args[0]), rate=args[1])


def build_cache(roots: list[Path], out_dir: Path, *, rate: int = 22050, workers: int = 2,
                progress: bool = True) -> AudioCache:
    """Decode every track under ``roots`` once into ``out_dir/audio.i16`` + ``index.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    index_path = out_dir / "index.json"
    if index_path.exists():
        return open_cache(out_dir)
    tracks = find_tracks(roots)
    names: list[str] = []
    starts = [0]
    tmp = out_dir / "audio.i16.tmp"
    with open(tmp, "wb") as f, ProcessPoolExecutor(workers) as pool:
        jobs = [(str(t), rate) for t in tracks]
        for i, (track, x) in enumerate(zip(tracks, pool.map(_load_job, jobs, chunksize=2))):
            if progress:
                print(f"\rdecoding {i + 1}/{len(tracks)}", end="", flush=True)
            if x is None:
                continue
            f.write((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
            names.append(str(track))
            starts.append(starts[-1] + len(x))
    if progress:
        print()
    os.replace(tmp, out_dir / "audio.i16")
    index_path.write_text(json.dumps({"rate": rate, "starts": starts, "names": names}))
    return open_cache(out_dir)


def open_cache(out_dir: Path) -> AudioCache:
    """Open a cache written by :func:`build_cache`."""
    meta = json.loads((out_dir / "index.json").read_text())
    samples = np.memmap(out_dir / "audio.i16", dtype="<i2", mode="r")
    return AudioCache(samples=samples, starts=np.asarray(meta["starts"], dtype=np.int64),
                      rate=int(meta["rate"]), names=list(meta["names"]))


def sample_crops(cache: AudioCache, *, batch: int, length: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Random crops ``[batch, length]`` float32, each inside one track, with random gain
    (-12..+3 dB, clipped peak) so the model sees quiet and loud music alike."""
    lengths = np.diff(cache.starts)
    ok = np.flatnonzero(lengths > length)
    weights = lengths[ok] / lengths[ok].sum()
    picks = rng.choice(ok, size=batch, p=weights)
    out = np.empty((batch, length), dtype=np.float32)
    for b, t in enumerate(picks):
        off = cache.starts[t] + rng.integers(0, lengths[t] - length)
        out[b] = cache.samples[off:off + length].astype(np.float32) / 32768.0
    gain = 10 ** (rng.uniform(-12, 3, size=(batch, 1)) / 20)
    peak = np.abs(out).max(axis=1, keepdims=True) * gain
    gain = np.where(peak > 1.0, gain / np.maximum(peak, 1e-9), gain)
    return (out * gain).astype(np.float32)
