#!/usr/bin/env python3
"""Build the multi-artist genre set (issue 15) from the packages of ../shared/data/SOURCES.md.

    python scripts/make_genre_set.py [--heldout DIR] [--genre DIR] [--out DIR] [--rules TSV]
    # defaults: data/heldout  data/genre  data/genre_set  scripts/genre_rules.tsv

Inputs: the classification sources (``scripts/fetch_data.sh DEST heldout``) and the genre
packages (``scripts/fetch_genre_data.sh DEST``), extracted under ``DIR/<package>/``.

The label of every file comes from ``scripts/genre_rules.tsv`` (first matching row wins;
the rule itself is written in docs/classification.md, "Labelling rule"): a genre, an artist
group (artists grouped across packages: one name per person or band wherever they appear),
and the evidence (``tag`` the file's genre tag, ``medium`` a tracker module or C64 tune,
``source`` a classification source, ``credits`` artist from credits and genre from the survey
or title). A file no row matches, or a row with genre ``-`` (variants, doubtful pieces), is
left out and listed in ``left_out.tsv`` with the reason.

Audio: OGG/WAV read with soundfile, Frets on Fire ``song.ogg`` mixed with its guitar/rhythm
stems, tracker modules rendered with ffmpeg (libopenmpt) under a 120-s timeout; mono mix,
22050 Hz (scipy polyphase), leading/trailing silence under -60 dBFS trimmed; tracks then
under 30 s or quieter than -50 dBFS are left out.

Second signal (``credits`` rows only, whose genre is not stated by the file itself): the
pulse clarity of the track (the largest normalised autocorrelation of its spectral-flux
onset envelope at lags 0.25-1.5 s, in [0, 1]). A ``credits`` track labelled orchestral or
ambient with pulse >= PULSE_HIGH, or labelled rock-metal or electronic with pulse <
PULSE_LOW, is doubtful and left out. The thresholds are set from the tracks whose label does
not depend on it (``tag``/``source`` rows): PULSE_HIGH is above 90 % of their orchestral and
ambient tracks, PULSE_LOW below 90 % of their rock-metal and electronic ones (the figures are
printed, and written in docs/classification.md).

Duplicates: two files with the same bytes (sha256), or the same decoded 16-bit audio, keep
only the first (sorted by package then path); pairs that move alike are near duplicates (the same
piece re-encoded, re-mastered or cut): each track's 16-band log-energy envelope at 5 frames/s,
z-scored per band over time (static EQ and gain do not count), and the middle 30 s of one
correlated against the other at every time lag; a best correlation above 0.8 (1 = the same
audio) is reported in ``near_duplicates.tsv`` and the later one is left out.

Outputs: ``OUT/audio/<genre>/<package>__<track>.wav`` (16-bit), ``OUT/manifest.tsv``
(file, genre, artist, package, source, licence, seconds, evidence, pulse, rule note),
``OUT/tracks.csv`` (``path,label,source,track`` for ``aecodec train-classifier``; ``source``
is the artist group, so leave-one-source-out there is leave-one-artist-out), ``left_out.tsv``.
Deterministic; rerunning rebuilds every file.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly, stft

RATE = 22050
MIN_TRACK_S = 30.0
SILENT_RMS = 10 ** (-50 / 20)
TRIM_RMS = 10 ** (-60 / 20)
RENDER_TIMEOUT_S = 120
NEAR_DUP_CORR = 0.8  # aligned envelope correlation (1 = the same audio)
ENV_BANDS, ENV_FPS, ENV_WINDOW_S = 16, 5.0, 30.0
TRACKER_SUFFIXES = (".it", ".mod", ".s3m", ".xm", ".stm")
AUDIO_SUFFIXES = (".ogg", ".wav", ".opus", ".flac") + TRACKER_SUFFIXES
STEMS = ("guitar.ogg", "rhythm.ogg")
HELDOUT = ("wesnoth-1.16-music", "marsshooter-data", "fretsonfire-songs-muldjord",
           "nexuiz-music", "pingus-data", "tuxmath-data", "fb-music-high")
# the music licence of each package (its /usr/share/doc/<pkg>/copyright; naev per artist:
# dat/snd/SOUND_LICENSE.yaml)
LICENCES = {
    "wesnoth-1.16-music": "GPL-2+", "marsshooter-data": "CC-BY-SA-3.0",
    "fretsonfire-songs-muldjord": "GPL-2+", "nexuiz-music": "GPL-2+", "pingus-data": "GPL-3+",
    "tuxmath-data": "GPL-3+", "fb-music-high": "GPL-2+", "tecnoballz-data": "GPL-3+",
    "heroes-sound-tracks": "GPL-2+", "biniax2-data": "ZLib", "rafkill-data": "LGPL-2",
    "pachi-data": "GPL-2+", "pekka-kana-2-data": "BSD-2-Clause", "freedroid-data": "GPL-2+",
    "bomberclone-data": "GPL-2", "madbomber-data": "GPL-2", "gemdropx": "GPL-2",
    "gl-117-data": "GPL-2", "wordwarvi-sound": "GPL-2+", "widelands-data": "GPL-2+",
    "supertuxkart-data": "GPL-3+ / CC-BY-SA", "wizznic-data": "GPL-3+",
    "starfighter-data": "CC-BY-SA-3.0 / GPL-2+", "davegnukem-data": "CC-BY-3.0",
    "lordsawar-data": "GPL-3+", "ardentryst": "CC-BY-SA-3.0",
    "unknown-horizons": "GPL-2+ / CC-BY-SA-3.0", "freecol": "CC-BY-4.0",
    "megaglest-data": "CC-BY-SA-3.0", "krank": "GPL", "enigma-data": "GPL-2+",
    "naev-data": "GPL-3+ / CC-BY (per artist)",
}
NAEV_LICENCES = {"Askyel": "CC-BY-SA-3.0", "Nikola Whallon": "GPL-3 / CC-BY-3.0",
                 "Zeropage": "CC-BY-3.0", "Matthew Pablo": "CC-BY-3.0", "Dizzy Crow": "CC0",
                 "Alexandr Zhelanov": "CC-BY-3.0", "Olivier Berube": "CC0"}


@dataclass(frozen=True)
class Rule:
    package: str
    pattern: str
    genre: str  # "-" = left out
    artist: str
    evidence: str
    note: str


@dataclass
class Track:
    package: str
    source: str  # path inside the package
    rule: Rule
    seconds: float
    file_hash: str  # sha256 of the source file
    pcm_hash: str  # sha256 of the decoded 16-bit audio
    envelope: np.ndarray  # [16 bands, frames at 10 fps] log band energies, z-scored per band
    pulse: float

    @property
    def rel(self) -> Path:
        return Path("audio") / self.rule.genre / self.name

    @property
    def name(self) -> str:
        stem = Path(self.source).stem
        if stem == "song":  # fretsonfire keeps every song as <song>/song.ogg
            stem = Path(self.source).parent.name
        return f"{self.package}__{stem.replace(' ', '_')}.wav"


def read_rules(path: Path) -> list[Rule]:
    rules = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rules.append(Rule(*line.split("\t")[:6]))
    return rules


def match(rules: list[Rule], package: str, source: str) -> Rule | None:
    for rule in rules:
        if rule.package == package and fnmatch.fnmatch(source, rule.pattern):
            return rule
    return None


def read_with_stems(path: Path) -> tuple[np.ndarray, int] | None:
    """A file soundfile reads -> (float32 ``[samples, channels]``, rate), with a Frets on Fire
    ``song.ogg``'s guitar/rhythm stems mixed in; None (and a note on stderr) if unreadable."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        for stem in STEMS if path.name == "song.ogg" else ():
            if (path.parent / stem).is_file():
                extra, _ = sf.read(str(path.parent / stem), dtype="float32", always_2d=True)
                n = min(len(data), len(extra))
                data = data[:n] + extra[:n, : data.shape[1]]
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        print(f"skip {path}: {exc}", file=sys.stderr)
        return None
    return data, int(rate)


def decode(path: Path, tmp: Path) -> np.ndarray | None:
    """Mono float32 at 22050 Hz, silence-trimmed; None if unreadable or a renderer fails."""
    if path.suffix.lower() in TRACKER_SUFFIXES:
        out = tmp / "render.wav"
        cmd = ["timeout", str(RENDER_TIMEOUT_S), "ffmpeg", "-nostdin", "-v", "error", "-y",
               "-threads", "1", "-i", str(path), "-ac", "1", "-ar", str(RATE), str(out)]
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            print(f"skip {path}: ffmpeg failed or timed out", file=sys.stderr)
            return None
        data, rate = sf.read(str(out), dtype="float32", always_2d=True)
    else:
        read = read_with_stems(path)
        if read is None:
            return None
        data, rate = read
    mono = data.mean(axis=1)
    if rate != RATE:
        g = gcd(RATE, int(rate))
        mono = resample_poly(mono, RATE // g, int(rate) // g)
    return trim(mono.astype(np.float32))


def trim(x: np.ndarray) -> np.ndarray:
    """Cut leading/trailing 93-ms windows quieter than -60 dBFS RMS."""
    win = 2048
    n = len(x) // win
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * win].astype(np.float64).reshape(n, win) ** 2, axis=1))
    loud = np.nonzero(rms >= TRIM_RMS)[0]
    return x[:0] if len(loud) == 0 else x[loud[0] * win:(loud[-1] + 1) * win]


def logspec(x: np.ndarray) -> np.ndarray:
    """[64 bands, frames] log band energies (1024/512 STFT, bands linear in mel)."""
    _, _, z = stft(x, fs=RATE, nperseg=1024, noverlap=512, boundary=None, padded=False)
    power = np.abs(z) ** 2
    freqs = np.linspace(0, RATE / 2, power.shape[0])
    mel = 2595 * np.log10(1 + freqs / 700)
    band = np.minimum((mel / mel[-1] * 64).astype(int), 63)
    bands = np.zeros((64, power.shape[1]))
    np.add.at(bands, band, power)
    return np.log(bands + 1e-10)


def pulse_clarity(x: np.ndarray) -> float:
    """Largest normalised autocorrelation of the onset envelope at lags 0.25-1.5 s."""
    spec = logspec(x)
    flux = np.maximum(np.diff(spec, axis=1), 0).sum(axis=0)
    flux = flux - np.convolve(flux, np.ones(43) / 43, mode="same")  # ~1-s detrend
    ac = np.correlate(flux, flux, mode="full")[len(flux) - 1:]
    fps = RATE / 512
    lo, hi = int(0.25 * fps), int(1.5 * fps)
    return float(ac[lo:hi].max() / (ac[0] + 1e-12)) if len(ac) > hi else 0.0


def envelope(x: np.ndarray) -> np.ndarray:
    """[16 bands, frames] log band energies at ~10 frames/s, floored 80 dB under the loudest
    (the correlation below is normalised per window, so static EQ or gain does not count)."""
    spec = logspec(x)  # [64, frames at 43 fps]
    bands = spec.reshape(ENV_BANDS, 64 // ENV_BANDS, -1).mean(axis=1)
    hop = round(RATE / 512 / ENV_FPS)
    n = bands.shape[1] // hop
    env = bands[:, : n * hop].reshape(ENV_BANDS, n, hop).mean(axis=2)
    return np.maximum(env, env.max() - np.log(1e8)).astype(np.float64)


class Aligner:
    """Best normalised cross-correlation of the middle 30 s of one track's envelope against
    another's over every time lag, averaged over the bands: 1 for the same audio at any gain,
    EQ or offset, low for different pieces. FFTs and running sums are computed once per track.
    """

    def __init__(self, envelopes: list[np.ndarray]) -> None:
        self.w = min([int(ENV_WINDOW_S * ENV_FPS)] + [e.shape[1] for e in envelopes])
        self.n = 1 << int(np.ceil(np.log2(max(e.shape[1] for e in envelopes) + self.w)))
        self.frames = [e.shape[1] for e in envelopes]
        self.spec = [np.fft.rfft(e, self.n) for e in envelopes]
        self.wins = []
        self.stats = []
        for e in envelopes:
            start = (e.shape[1] - self.w) // 2
            win = e[:, start:start + self.w]
            win = (win - win.mean(1, keepdims=True)) / (win.std(1, keepdims=True) + 1e-6)
            self.wins.append(np.conj(np.fft.rfft(win, self.n)))
            lags = e.shape[1] - self.w + 1
            c1 = np.concatenate([np.zeros((e.shape[0], 1)), np.cumsum(e, axis=1)], axis=1)
            c2 = np.concatenate([np.zeros((e.shape[0], 1)), np.cumsum(e**2, axis=1)], axis=1)
            mean = (c1[:, self.w:self.w + lags] - c1[:, :lags]) / self.w
            var = (c2[:, self.w:self.w + lags] - c2[:, :lags]) / self.w - mean**2
            self.stats.append(self.w * np.sqrt(np.maximum(var, 0)) + 1e-6)

    def corr(self, i: int, j: int) -> float:
        """The window of track ``i`` slid over track ``j``."""
        lags = self.frames[j] - self.w + 1
        xc = np.fft.irfft(self.spec[j] * self.wins[i], self.n)[:, :lags]
        return float((xc / self.stats[j]).mean(axis=0).max())


def cached(out: Path, package: str, path: Path, source: str, rule: Rule) -> Track | None:
    """The track's features from ``out/features/`` if the source file is unchanged and its
    WAV is in place (so several collectors can run side by side, and a rerun is quick)."""
    st = path.stat()
    f = out / "features" / f"{package}__{hashlib.sha256(source.encode()).hexdigest()[:16]}.npz"
    if not f.is_file():
        return None
    with np.load(f, allow_pickle=False) as z:
        if str(z["key"]) != f"{st.st_size}:{int(st.st_mtime)}":
            return None
        t = Track(package, source, rule, float(z["seconds"]), str(z["file_hash"]),
                  str(z["pcm_hash"]), z["envelope"], float(z["pulse"]))
    return t if (out / t.rel).is_file() else None


def store(out: Path, path: Path, t: Track) -> None:
    st = path.stat()
    f = out / "features" / f"{t.package}__{hashlib.sha256(t.source.encode()).hexdigest()[:16]}.npz"
    f.parent.mkdir(parents=True, exist_ok=True)
    np.savez(f, key=f"{st.st_size}:{int(st.st_mtime)}", seconds=t.seconds,
             file_hash=t.file_hash, pcm_hash=t.pcm_hash, envelope=t.envelope, pulse=t.pulse)


def collect(roots: list[Path], rules: list[Rule], tmp: Path, out: Path,
            left: list[tuple[str, str, str]], packages: set[str] | None = None) -> list[Track]:
    """Every labelled track, decoded and written to ``out/audio/...`` at once (memory stays
    one track; features cached in ``out/features/``); the ones left out later are deleted."""
    tracks = []
    for root in roots:
        for pkg_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            package = pkg_dir.name
            if package not in LICENCES or (packages and package not in packages):
                continue
            for path in sorted(pkg_dir.rglob("*")):
                if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
                    continue
                if path.name in STEMS and (path.parent / "song.ogg").is_file():
                    continue
                source = str(path.relative_to(pkg_dir))
                rule = match(rules, package, source)
                if rule is None or rule.genre == "-":
                    if rule is not None or "/music" in source.lower() or path.suffix.lower() in TRACKER_SUFFIXES:
                        left.append((package, source, rule.evidence + ": " + rule.note if rule else "no rule"))
                    continue
                hit = cached(out, package, path, source, rule)
                if hit is not None:
                    tracks.append(hit)
                    continue
                audio = decode(path, tmp)
                if audio is None:
                    left.append((package, source, "unreadable or render failed"))
                    continue
                rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
                if len(audio) < MIN_TRACK_S * RATE or rms < SILENT_RMS:
                    left.append((package, source, f"under 30 s or silent ({len(audio) / RATE:.0f} s)"))
                    continue
                pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
                t = Track(package, source, rule, len(audio) / RATE,
                          hashlib.sha256(path.read_bytes()).hexdigest(),
                          hashlib.sha256(pcm.tobytes()).hexdigest(),
                          envelope(audio), pulse_clarity(audio))
                (out / t.rel).parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(out / t.rel), pcm, RATE, subtype="PCM_16")
                store(out, path, t)
                tracks.append(t)
                print(f"{package}/{source}: {rule.genre}, {t.seconds:.0f} s, pulse {t.pulse:.3f}",
                      file=sys.stderr)
    return tracks


def dedup(tracks: list[Track], left: list[tuple[str, str, str]],
          near: list[str]) -> list[Track]:
    seen: dict[str, Track] = {}
    kept: list[Track] = []
    for t in tracks:
        pcm = t.pcm_hash
        dup = seen.get(t.file_hash) or seen.get(pcm)
        if dup is not None:
            left.append((t.package, t.source, f"exact duplicate of {dup.package}/{dup.source}"))
            continue
        seen[t.file_hash] = seen[pcm] = t
        kept.append(t)
    drop: set[int] = set()
    align = Aligner([t.envelope for t in kept])
    for i in range(len(kept)):
        for j in range(i + 1, len(kept)):
            if j in drop or i in drop:
                continue
            c = max(align.corr(i, j), align.corr(j, i))
            if c > NEAR_DUP_CORR:
                near.append(f"{kept[i].package}/{kept[i].source}\t{kept[j].package}/{kept[j].source}\t{c:.4f}")
                drop.add(j)
                left.append((kept[j].package, kept[j].source,
                             f"near duplicate of {kept[i].package}/{kept[i].source} ({c:.4f})"))
    return [t for k, t in enumerate(kept) if k not in drop]


def second_signal(tracks: list[Track], left: list[tuple[str, str, str]]) -> list[Track]:
    calm = [t.pulse for t in tracks if t.rule.evidence in ("tag", "source")
            and t.rule.genre in ("orchestral", "ambient")]
    beat = [t.pulse for t in tracks if t.rule.evidence in ("tag", "source")
            and t.rule.genre in ("rock-metal", "electronic")]
    high = float(np.percentile(calm, 90)) if calm else 1.0
    low = float(np.percentile(beat, 10)) if beat else 0.0
    print(f"pulse clarity: orchestral/ambient (tag/source) p90 = {high:.3f} over {len(calm)}, "
          f"rock-metal/electronic (tag/source) p10 = {low:.3f} over {len(beat)}", file=sys.stderr)
    kept = []
    for t in tracks:
        if t.rule.evidence == "credits":
            if t.rule.genre in ("orchestral", "ambient") and t.pulse >= high:
                left.append((t.package, t.source, f"doubtful: {t.rule.genre} with pulse {t.pulse:.3f} >= {high:.3f}"))
                continue
            if t.rule.genre in ("rock-metal", "electronic") and t.pulse < low:
                left.append((t.package, t.source, f"doubtful: {t.rule.genre} with pulse {t.pulse:.3f} < {low:.3f}"))
                continue
        kept.append(t)
    return kept


def licence(t: Track) -> str:
    if t.package == "naev-data":
        return NAEV_LICENCES.get(t.rule.artist, LICENCES[t.package])
    return LICENCES[t.package]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, default=Path("data/heldout"))
    parser.add_argument("--genre", type=Path, default=Path("data/genre"))
    parser.add_argument("--out", type=Path, default=Path("data/genre_set"))
    parser.add_argument("--rules", type=Path, default=Path(__file__).with_name("genre_rules.tsv"))
    parser.add_argument("--packages", default="",
                        help="comma list: only decode these packages, then stop (run several "
                             "such collectors side by side, then one plain run to finish)")
    args = parser.parse_args(argv)
    roots = [r for r in (args.heldout, args.genre) if r.is_dir()]
    if not roots:
        parser.error(f"neither {args.heldout} nor {args.genre} exists")
    rules = read_rules(args.rules)
    left: list[tuple[str, str, str]] = []
    near: list[str] = []
    only = {p for p in args.packages.split(",") if p}
    with tempfile.TemporaryDirectory(prefix="genreset-") as tmp:
        everything = collect(roots, rules, Path(tmp), args.out, left, only or None)
    if only:
        print(f"collected {len(everything)} tracks of {', '.join(sorted(only))}", file=sys.stderr)
        return 0
    tracks = second_signal(dedup(everything, left, near), left)
    kept = {args.out / t.rel for t in tracks}
    for old in (args.out / "audio").rglob("*.wav"):
        if old not in kept:
            old.unlink()
    manifest = ["file\tgenre\tartist\tpackage\tsource\tlicence\tseconds\tevidence\tpulse\tnote"]
    rows = []
    for t in tracks:
        rel = t.rel
        manifest.append(f"{rel}\t{t.rule.genre}\t{t.rule.artist}\t{t.package}\t{t.source}\t"
                        f"{licence(t)}\t{t.seconds:.1f}\t{t.rule.evidence}\t"
                        f"{t.pulse:.3f}\t{t.rule.note}")
        rows.append([str(rel), t.rule.genre, t.rule.artist, f"{t.package}/{t.source}"])
    (args.out / "manifest.tsv").write_text("\n".join(manifest) + "\n")
    with open(args.out / "tracks.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "source", "track"])
        w.writerows(rows)
    (args.out / "left_out.tsv").write_text(
        "package\tsource\treason\n" + "".join(f"{p}\t{s}\t{r}\n" for p, s, r in left))
    (args.out / "near_duplicates.tsv").write_text("kept\tdropped\tcorr\n" + "".join(n + "\n" for n in near))
    summary: dict[str, dict[str, float]] = {}
    for t in tracks:
        summary.setdefault(t.rule.genre, {}).setdefault(t.rule.artist, 0.0)
        summary[t.rule.genre][t.rule.artist] += t.seconds / 60
    for genre, artists in sorted(summary.items()):
        print(f"{genre}: {len(artists)} artists, {sum(artists.values()):.1f} min: "
              + ", ".join(f"{a} {m:.1f}" for a, m in sorted(artists.items())), file=sys.stderr)
    print(f"{len(tracks)} tracks in {args.out}, {len(left)} left out", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
