"""The listening report of ``aecodec bench --html``: one self-contained HTML page.

For every clip: the original and each codec/operating point as an ``<audio>`` player with its
actual kbps and measures, and a mel spectrogram of each on one colour scale (plus the difference
to the original, toggled with ``d``); then the summary table, the rate-distortion plot, and the
machine, versions and command that made it. Keyboard A/B keeps the playback position
(:mod:`aecodec.bench.report_assets`). Nothing is fetched: audio and pictures are ``data:`` URIs.

Audio goes into the page as Ogg Opus at :data:`PAGE_OPUS_KBPS` (mono, about 90 kB for 10 s) or
as 16-bit FLAC (exact, about 3x larger: 280-380 kB for the held-out 10-s clips at 22050 Hz).
Every player holds the mono mixdown the measures were computed on, aligned to the original
(:func:`aecodec.bench.metrics.align`, done by the caller), so switching players at one position
compares the same music.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from aecodec import __version__
from aecodec.bench.report_assets import EARLY_SCRIPT, SCRIPT, STYLE
from aecodec.bench.run import METRICS, Row
from aecodec.bench.spectrogram import (
    DIFF_CMAP,
    DIFF_DB,
    FLOOR_DB,
    SPEC_CMAP,
    diff_png,
    legend_png,
    mel_db,
    spec_png,
)
from aecodec.bench.table import summarize
from aecodec.dsp.audio import fit_length
from aecodec.errors import AecError

PAGE_OPUS_KBPS = 64.0
"""Bit rate of the Opus copies in the page (mono); near-transparent beside the codecs tested."""
AUDIO_FORMATS = ("opus", "flac")
EXCERPT_S = 20.0
"""Seconds of each clip the page holds (from the start) unless told otherwise."""
TOOL_TIMEOUT_S = 120


@dataclass(frozen=True)
class Take:
    """One player of a clip: ``row`` is None for the original."""

    label: str
    row: Row | None
    audio: np.ndarray | None  # mono float32 [samples], None when the row failed


def page_audio(x: np.ndarray, *, rate: int, audio_format: str = "opus",
               opus_kbps: float = PAGE_OPUS_KBPS) -> tuple[str, bytes]:
    """Mono float ``[samples]`` -> (MIME type, file bytes) for a ``data:`` URI."""
    wav = io.BytesIO()
    sf.write(wav, np.clip(x, -1.0, 1.0), rate, subtype="PCM_16",
             format="WAV" if audio_format == "opus" else "FLAC")
    if audio_format == "flac":
        return "audio/flac", wav.getvalue()
    if audio_format != "opus":
        raise AecError(f"unknown report audio format {audio_format!r} (choose opus or flac)")
    if not shutil.which("opusenc"):
        raise AecError("the report's Opus audio needs opusenc (opus-tools); or use FLAC")
    proc = subprocess.run(["opusenc", "--quiet", "--bitrate", f"{opus_kbps:g}", "-", "-"],
                          input=wav.getvalue(), capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
    if proc.returncode or not proc.stdout:
        raise AecError(f"opusenc failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
    return "audio/ogg", proc.stdout


def _uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _measures(row: Row | None) -> str:
    if row is None:
        return "source"
    parts = [f"{row.kbps:.2f} kbps actual", html.escape(row.setting)]
    names = {"mr_rmse": "mr", "mel_l1": "mel", "seed_rmse": "seed", "lsd_db": "lsd",
             "snr_db": "snr", "visqol": "visqol"}
    for m in (*METRICS, "visqol"):
        if m in row.metrics and not math.isnan(row.metrics[m]):
            parts.append(f"{names[m]} {row.metrics[m]:.3f}")
    return " · ".join(p for p in parts if p)


def take_card(take: Take, *, key: int, uid: str, ref_db: np.ndarray, rate: int,
              audio_format: str, opus_kbps: float) -> tuple[str, int]:
    """HTML of one player card (and how many bytes of audio it embeds)."""
    head = (f'<div class="name"><kbd>{(key + 1) % 10}</kbd> {html.escape(take.label)}</div>'
            if key < 10 else f'<div class="name">{html.escape(take.label)}</div>')
    if take.audio is None:
        err = html.escape(take.row.error if take.row else "no audio")
        return f'<div class="take">{head}<div class="error">failed: {err}</div></div>', 0
    mime, data = page_audio(take.audio, rate=rate, audio_format=audio_format,
                            opus_kbps=opus_kbps)
    db = mel_db(take.audio, rate=rate) if take.row is not None else ref_db
    spec = _uri("image/png", spec_png(db))
    pics = f'<img class="spec-img{" has-diff" if take.row else ""}" alt="spectrogram" src="{spec}">'
    if take.row is not None:
        pics += (f'<img class="diff-img" alt="difference to the original" '
                 f'src="{_uri("image/png", diff_png(db, ref_db))}">')
    return (f'<div class="take">{head}<div class="measures">{_measures(take.row)}</div>'
            f'<audio id="{uid}" controls preload="metadata" src="{_uri(mime, data)}"></audio>'
            f'<div class="pic">{pics}<div class="cursor"></div></div></div>'), len(data)


def clip_section(name: str, ref: np.ndarray, takes: Sequence[tuple[Row, np.ndarray | None]], *,
                 rate: int, index: int, excerpt_s: float | None = EXCERPT_S,
                 audio_format: str = "opus", opus_kbps: float = PAGE_OPUS_KBPS) -> tuple[str, int]:
    """HTML section of one clip: the original and every (row, decoded mono audio) as players.

    ``ref`` and the decoded audio are mono float ``[samples]`` at ``rate``, the decoded audio
    already aligned to ``ref`` (:func:`aecodec.bench.metrics.align`, as the measures use it); all
    are cut to the first ``excerpt_s`` seconds.
    Returns the HTML and the number of audio bytes it embeds.
    """
    n = len(ref) if excerpt_s is None else min(len(ref), max(1, int(excerpt_s * rate)))
    original = np.asarray(ref, dtype=np.float32)
    all_takes = [Take("original", None, original[:n])]
    for row, audio in takes:
        label = f"{row.codec} {row.target_kbps:g} kbps" if row.target_kbps > 0 else row.codec
        cut = None if audio is None or row.error else fit_length(
            np.asarray(audio, dtype=np.float32), len(original))[:n]
        all_takes.append(Take(label, row, cut))
    ref_db = mel_db(original[:n], rate=rate)
    cards, size = [], 0
    for k, take in enumerate(all_takes):
        card, nbytes = take_card(take, key=k, uid=f"a{index}-{k}", ref_db=ref_db, rate=rate,
                                 audio_format=audio_format, opus_kbps=opus_kbps)
        cards.append(card)
        size += nbytes
    secs = n / rate
    return (f'<section class="clip" id="clip{index}"><h2>{index + 1}. {html.escape(name)}</h2>'
            f'<div class="measures">{secs:.1f} s shown of {len(ref) / rate:.1f} s</div>'
            f'<div class="takes">{"".join(cards)}</div></section>'), size


def summary_table(rows: Sequence[Row]) -> str:
    """The bench summary (means per codec and target) as an HTML table."""
    summary = summarize(rows)
    extra = ("visqol",) if any("visqol" in d for d in summary) else ()
    cols = ("kbps", "kbps_max_dev", *METRICS, *extra, "enc_x", "dec_x", "n")
    heads = ("actual kbps", "max dev", *METRICS, *extra, "enc x RT", "dec x RT", "n")
    out = ['<table class="summary"><tr><th>codec</th><th>target kbps</th>' +
           "".join(f"<th>{h}</th>" for h in heads) + "</tr>"]
    for d in summary:
        cells = []
        for c in cols:
            v = d.get(c, math.nan)
            if c == "kbps_max_dev":
                cells.append("-" if math.isnan(v) else f"{v * 100:.0f}%")
            elif isinstance(v, float):
                cells.append("-" if math.isnan(v) else f"{v:.{0 if c.endswith('_x') else 3}f}")
            else:
                cells.append(str(v))
        target = f"{d['target_kbps']:g}" if d["target_kbps"] > 0 else "-"
        out.append(f"<tr><td>{html.escape(d['codec'])}</td><td>{target}</td>" +
                   "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    fails = [r for r in rows if r.error]
    out.append("</table>")
    if fails:
        out.append("<p>Failures:</p><ul>" + "".join(
            f"<li>{html.escape(Path(r.file).name)} ({html.escape(r.codec)}): "
            f"{html.escape(r.error)}</li>" for r in fails) + "</ul>")
    return "".join(out)


def _tool_version(cmd: list[str]) -> str:
    if not shutil.which(cmd[0]):
        return "not found"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def machine_info() -> dict[str, str]:
    """Machine, OS, and the versions of Python, the libraries and the reference tools."""
    import numpy
    import scipy
    try:  # the runtime needs no torch; name its version where it is installed
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{cpu}, {os.cpu_count()} logical CPUs", "os": platform.platform(),
            "python": platform.python_version(), "aecodec": __version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "torch": torch_version,
            "opusenc": _tool_version(["opusenc", "--version"]),
            "lame": _tool_version(["lame", "--version"])}


def rd_plot_png(rows: Sequence[Row]) -> bytes:
    """The bench rate-distortion plot (:func:`aecodec.bench.table.plot_rd`) as PNG bytes."""
    from aecodec.bench.table import plot_rd

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rd.png"
        plot_rd(path, list(rows))
        return path.read_bytes()


def page(sections: Sequence[str], rows: Sequence[Row], info: dict[str, Any], *, command: str,
         machine: dict[str, str], rd_png: bytes | None, audio_note: str) -> str:
    """The whole HTML document from the clip sections and the bench results."""
    facts = {**machine, **{k: str(v) for k, v in info.items() if k != "missing"},
             "command": command}
    info_text = html.escape("\n".join(f"{k}: {v}" for k, v in facts.items()))
    rd = (f'<img alt="rate-distortion plot" style="max-width:100%" '
          f'src="{_uri("image/png", rd_png)}">' if rd_png else "<p>(no rate-distortion plot)</p>")
    legend = (f'<span class="legend">spectrogram <img alt="" src="{_uri("image/png", legend_png(SPEC_CMAP))}"> '
              f'{FLOOR_DB:.0f} .. 0 dB (mel bands, 0-11 kHz); difference '
              f'<img alt="" src="{_uri("image/png", legend_png(DIFF_CMAP))}"> '
              f'-{DIFF_DB:.0f} .. +{DIFF_DB:.0f} dB (blue: lost, red: added)</span>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>aecodec listening report</title><style>{STYLE}</style>
<script>{EARLY_SCRIPT}</script></head>
<body>
<h1>aecodec listening report</h1>
<p id="status" data-ready="0" data-total="0" data-errors="0">Players loading (needs JavaScript)</p>
<ol id="errors"></ol>
<p class="help">Keys: <kbd>1</kbd>..<kbd>0</kbd> choose a player of the clip,
<kbd>j</kbd>/<kbd>k</kbd> (or arrows) next/previous player, <kbd>space</kbd> play/pause,
<kbd>n</kbd>/<kbd>p</kbd> next/previous clip, <kbd>d</kbd> spectrogram / difference to the original.
Switching players keeps the playback position; click a spectrogram to seek.
<button id="diff-toggle" type="button">spectrogram / difference (d)</button></p>
<p>{legend}</p>
<p>{html.escape(audio_note)}</p>
{"".join(sections)}
<h2>Summary (means over clips)</h2>{summary_table(rows)}
<h2>Rate-distortion</h2>{rd}
<h2>Machine, versions, command</h2><pre class="info">{info_text}</pre>
<script>{SCRIPT}</script>
</body></html>
"""


def default_audio_format(choice: str = "auto") -> str:
    """``"opus"`` or ``"flac"`` for a ``--html-audio`` choice (auto: Opus when opusenc is here,
    else FLAC, with a note on stderr)."""
    if choice != "auto":
        return choice
    if shutil.which("opusenc"):
        return "opus"
    print("aecodec: note: opusenc not found; the report's audio is FLAC (about 3x larger)",
          file=sys.stderr)
    return "flac"


class ListeningReport:
    """Collects clip sections as bench runs (so decoded audio need not be kept), then writes.

    ``audio_format`` is ``"opus"`` (needs opusenc) or ``"flac"``; both and the ``[plot]``
    extra are checked here, before any clip is coded.
    """

    def __init__(self, path: Path, *, audio_format: str = "opus",
                 opus_kbps: float = PAGE_OPUS_KBPS, excerpt_s: float | None = EXCERPT_S) -> None:
        from aecodec.bench.spectrogram import need_matplotlib

        need_matplotlib("--html")
        if audio_format not in AUDIO_FORMATS:
            raise AecError(f"unknown report audio format {audio_format!r} (choose opus or flac)")
        if audio_format == "opus" and not shutil.which("opusenc"):
            raise AecError("--html with Opus audio needs opusenc (opus-tools); or use FLAC")
        if excerpt_s is not None and not excerpt_s > 0:
            raise AecError(f"report excerpt must be > 0 s, got {excerpt_s}")
        from aecodec.files.atomic import check_output

        check_output(path, force=True)
        self.path, self.audio_format = path, audio_format
        self.opus_kbps, self.excerpt_s = opus_kbps, excerpt_s
        self.sections: list[str] = []
        self.audio_bytes = self.players = 0

    def add(self, name: str, ref: np.ndarray, takes: Sequence[tuple[Row, np.ndarray | None]], *,
            rate: int) -> None:
        """Add one clip: mono ``ref`` ``[samples]`` at ``rate`` and its decoded takes."""
        section, size = clip_section(name, ref, takes, rate=rate, index=len(self.sections),
                                     excerpt_s=self.excerpt_s, audio_format=self.audio_format,
                                     opus_kbps=self.opus_kbps)
        self.sections.append(section)
        self.audio_bytes += size
        self.players += 1 + sum(audio is not None and not row.error for row, audio in takes)

    def add_clip(self, name: str, ref: np.ndarray, rate: int,
                 takes: Sequence[tuple[Row, np.ndarray | None]]) -> None:
        """:meth:`add` in the argument order of ``run_bench(on_clip=...)``."""
        self.add(Path(name).name, ref, takes, rate=rate)

    def write(self, rows: Sequence[Row], info: dict[str, Any], *, command: str) -> int:
        """Write the page (atomically, replacing ``path``); returns its size in bytes."""
        from aecodec.files.atomic import atomic_output

        kind = (f"Ogg Opus {self.opus_kbps:g} kbps" if self.audio_format == "opus"
                else "16-bit FLAC")
        shown = "whole clips" if self.excerpt_s is None else f"the first {self.excerpt_s:g} s"
        note = (f"Players: {kind} copies of {shown} of the mono mixdown the measures were "
                f"computed on, decoded audio aligned to the original "
                f"({self.audio_bytes / 1e6:.1f} MB of audio in this page).")
        text = page(self.sections, rows, info, command=command, machine=machine_info(),
                    rd_png=rd_plot_png(rows) if any(not r.error for r in rows) else None,
                    audio_note=note).encode("utf-8")
        with atomic_output(self.path, force=True) as f:
            f.write(text)
        return len(text)
