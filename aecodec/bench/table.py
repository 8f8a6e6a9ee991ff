"""The benchmark's outputs: the summary table (markdown), JSON, CSV and the rate-distortion plot."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aecodec.bench.fullband_metrics import FB_METRICS
from aecodec.bench.run import METRICS, Row
from aecodec.bench.stereo_metrics import STEREO_METRICS
from aecodec.errors import AecError, OutputError


def summarize(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Mean of every number per (codec, target kbps), in first-seen order."""
    groups: dict[tuple[str, float], list[Row]] = {}
    for r in rows:
        if not r.error:
            groups.setdefault((r.codec, r.target_kbps), []).append(r)
    out = []
    for (codec, target), rs in groups.items():
        d: dict[str, Any] = {"codec": codec, "target_kbps": target, "n": len(rs)}
        for key in ("kbps", "enc_x", "dec_x"):
            vals = [getattr(r, key) for r in rs if not math.isnan(getattr(r, key))]
            d[key] = float(np.mean(vals)) if vals else math.nan
        d["kbps_max_dev"] = (max(abs(r.kbps / target - 1) for r in rs) if target > 0
                             else math.nan)
        for m in METRICS + FB_METRICS + STEREO_METRICS + ("visqol",):
            if all(m in r.metrics for r in rs):
                d[m] = float(np.mean([r.metrics[m] for r in rs]))
        out.append(d)
    out.sort(key=lambda d: (d["target_kbps"], d["codec"] != "aecodec", d["codec"]))
    return out


def _fmt(v: Any, nd: int = 3) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.{nd}f}"
    return str(v)


def to_markdown(rows: list[Row], *, verbose: bool = False) -> str:
    """Markdown table of means (and per-file rows when ``verbose``), failures listed last."""
    summary = summarize(rows)
    has_v = any("visqol" in d for d in summary)
    stereo = [m for m in FB_METRICS + STEREO_METRICS if any(m in d for d in summary)]
    head = ("| codec | target kbps | actual kbps | max dev | seed_rmse | mr_rmse | mel_l1 | lsd_db "
            "| snr_db |" + "".join(f" {m} |" for m in stereo) + (" visqol |" if has_v else "")
            + " enc x RT | dec x RT | n |")
    lines = [head, "|" + "---|" * (12 + has_v + len(stereo))]
    for d in summary:
        dev = "-" if math.isnan(d["kbps_max_dev"]) else f"{d['kbps_max_dev'] * 100:.0f}%"
        target = f"{d['target_kbps']:g}" if d["target_kbps"] > 0 else "-"
        vis = (f" {_fmt(d['visqol'], 2)} |" if "visqol" in d else " - |") if has_v else ""
        lines.append(f"| {d['codec']} | {target} | {_fmt(d['kbps'], 2)} | {dev} | " +
                     " | ".join(_fmt(d[m]) for m in METRICS) + " |" +
                     "".join(f" {_fmt(d.get(m, math.nan))} |" for m in stereo) + f"{vis}"
                     f" {_fmt(d['enc_x'], 0)} | {_fmt(d['dec_x'], 0)} | {d['n']} |")
    if verbose:
        lines += ["", "| file | codec | setting | kbps | " + " | ".join(METRICS) + " |",
                  "|" + "---|" * (4 + len(METRICS))]
        for r in rows:
            if not r.error:
                lines.append(f"| {Path(r.file).name} | {r.codec} | {r.setting} | "
                             f"{_fmt(r.kbps, 2)} | " +
                             " | ".join(_fmt(r.metrics[m]) for m in METRICS) + " |")
    failures = [r for r in rows if r.error]
    if failures:
        lines += ["", "Failures:"] + [f"- {Path(r.file).name} ({r.codec}): {r.error}"
                                      for r in failures]
    return "\n".join(lines)


def check_reports(paths: Sequence[Path | None], *, inputs: Sequence[Path],
                  force: bool) -> None:
    """Refuse report outputs (``--json/--csv/--plot/--html``) before a run: one that exists
    (without ``force``), is an input or a folder, lies in a missing folder, or is named twice."""
    from aecodec.bench.run import find_audio
    from aecodec.files.atomic import check_output
    given = [p for p in paths if p is not None]
    files = tuple(find_audio(inputs)) if given else ()
    seen: set[str] = set()
    for p in given:
        key = os.path.abspath(p)
        if key in seen:
            raise OutputError(f"{p}: named for two reports")
        seen.add(key)
        if any(os.path.abspath(f) == key for f in files):
            raise OutputError(f"{p}: output is the same file as the input")
        check_output(p, force=force, inputs=files)


def _atomic_text(path: Path, text: str) -> None:
    from aecodec.files.atomic import atomic_output
    with atomic_output(path, force=True) as f:
        f.write(text.encode("utf-8"))


def write_json(path: Path, rows: list[Row], info: dict[str, Any]) -> None:
    _atomic_text(path, json.dumps({"info": info, "summary": summarize(rows),
                                   "rows": [r.flat() for r in rows]}, indent=1, default=str))


def write_csv(path: Path, rows: list[Row]) -> None:
    fields = (list(Row(file="", codec="", target_kbps=0).flat()) + list(METRICS)
              + list(FB_METRICS) + list(STEREO_METRICS))
    f = io.StringIO(newline="")
    w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(fields)), restval="")
    w.writeheader()
    for r in rows:
        w.writerow(r.flat())
    _atomic_text(path, f.getvalue())


def plot_rd(path: Path, rows: list[Row], *, metric: str = "mr_rmse") -> None:
    """Rate-distortion PNG: one curve per codec (needs the optional matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise AecError("--plot needs matplotlib: pip install 'aecodec[plot]'") from None
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    summary = summarize(rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, m in zip(axes, ("mr_rmse", "mel_l1", "seed_rmse")):
        for codec in dict.fromkeys(d["codec"] for d in summary):
            pts = sorted((d["kbps"], d[m]) for d in summary
                         if d["codec"] == codec and not math.isnan(d["kbps"]))
            if pts:
                style = "o--" if "true phase" in codec else "o-"
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=codec)
        for d in summary:
            if math.isnan(d["kbps"]):  # the Griffin-Lim floor: no bitrate of its own
                ax.axhline(d[m], color="grey", linestyle=":", label=d["codec"])
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks([1.5, 3, 6, 12, 24])
        ax.set_xlabel("actual kbps")
        ax.set_ylabel(m + " (lower is better)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    from aecodec.files.atomic import atomic_output
    try:
        with atomic_output(path, force=True) as out:
            fig.savefig(out, dpi=110, format="png")
    finally:
        plt.close(fig)
