"""Training logs: every step's losses and held-out figures in a CSV, and a loss-curve PNG.

The CSV (``RUN/log.csv``) is long-format, one value a line, so runs can add quantities (a
held-out figure every few hundred steps, a mel term) without changing the header::

    step,seconds,split,quantity,value
    10,4.812,train,loss,1.2734
    500,231.5,heldout,l1,0.8123

``split`` is ``train`` for the optimised batch and ``heldout`` for figures on data the run does
not train on. A resumed run keeps the rows up to the step it resumes from and appends after
them, so the log matches the checkpoint. :func:`plot_log` draws one panel per quantity (raw
values faint, a moving average on top) with matplotlib, the ``[plot]`` extra.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from aecodec.errors import AecError

FIELDS = ("step", "seconds", "split", "quantity", "value")
LOG_NAME, CURVE_NAME = "log.csv", "loss.png"


class TrainLog:
    """Appends rows to a run's CSV log; use as a context manager.

    Parameters
    ----------
    path : Path
        The CSV file (created with its header when missing).
    resume_step : int
        Rows with a larger step (written after the checkpoint the run resumes from) are
        dropped before appending; 0 starts a fresh log.
    seconds : float
        Elapsed training time already spent (the resumed run's clock).
    """

    def __init__(self, path: Path, *, resume_step: int = 0, seconds: float = 0.0) -> None:
        self.path = path
        kept = [r for r in read_log(path) if int(r["step"]) <= resume_step] if (
            resume_step > 0 and path.exists()) else []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[str] = open(path, "w", newline="")  # noqa: SIM115 (closed in close())
        self._w = csv.writer(self._f)
        self._w.writerow(FIELDS)
        for r in kept:
            self._w.writerow([r[k] for k in FIELDS])
        self._t0 = time.time() - seconds
        self._since_flush = 0

    def __enter__(self) -> TrainLog:  # noqa: PYI034 (3.10 has no typing.Self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, step: int, values: Mapping[str, float], *, split: str = "train") -> None:
        """One row per finite value, stamped with ``step`` and the elapsed seconds."""
        now = f"{time.time() - self._t0:.3f}"
        for name, v in values.items():
            v = float(v)
            if math.isfinite(v):
                self._w.writerow([step, now, split, name, f"{v:.6g}"])
        self._since_flush += 1
        if self._since_flush >= 20 or split != "train":
            self._f.flush()
            self._since_flush = 0

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


def read_log(path: Path) -> list[dict[str, str]]:
    """Rows of a log as dicts (``step``, ``seconds``, ``split``, ``quantity``, ``value``)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise AecError(f"{path}: cannot read training log ({exc.strerror})") from None
    if rows and set(FIELDS) - set(rows[0]):
        raise AecError(f"{path}: not a training log (columns {', '.join(rows[0])})")
    return rows


def series(rows: list[dict[str, str]]) -> dict[tuple[str, str], tuple[list[int], list[float]]]:
    """``{(quantity, split): (steps, values)}`` in file order."""
    out: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
    for r in rows:
        steps, vals = out.setdefault((r["quantity"], r["split"]), ([], []))
        steps.append(int(r["step"]))
        vals.append(float(r["value"]))
    return out


def moving_average(values: list[float], *, width: int) -> list[float]:
    """Trailing mean over ``width`` values (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - width] if i >= width else 0.0)
        out.append(total / min(i + 1, width))
    return out


def plot_log(log: Path, png: Path, *, title: str = "", quantities: tuple[str, ...] = ()) -> Path:
    """Draw the loss curves of ``log`` into ``png`` (all quantities unless some are named)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise AecError("loss curves need matplotlib: pip install 'aecodec[plot]'") from None
    data = series(read_log(log))
    names = list(dict.fromkeys(q for q, _ in data if not quantities or q in quantities))
    if not names:
        raise AecError(f"{log}: no values to plot")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        for (q, split), (steps, vals) in data.items():
            if q != name:
                continue
            if split == "train" and len(vals) > 20:
                ax.plot(steps, vals, color="C0", alpha=0.2, linewidth=0.6)
                ax.plot(steps, moving_average(vals, width=max(5, len(vals) // 50)), color="C0",
                        label="train (moving average)")
            else:
                ax.plot(steps, vals, "o-" if len(vals) < 30 else "-", markersize=3,
                        color="C0" if split == "train" else "C1", label=split)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def finish(log: TrainLog, *, title: str = "") -> Path | None:
    """Close ``log`` and draw ``loss.png`` beside it; without matplotlib, say so and go on."""
    import sys

    log.close()
    try:
        return plot_log(log.path, log.path.with_name(CURVE_NAME), title=title)
    except AecError as exc:
        print(f"note: no loss curve: {exc}", file=sys.stderr)
        return None
