"""A one-line progress display on stderr and the closing lines of encode / decode.

Our own ~40 lines rather than a dependency or click's bar: the line shows what an audio user
wants (percent, seconds of audio done, x real time, ETA), rewrites itself in place with ``\\r``
at most 5 times a second, and appears only when stderr is a terminal and ``-q`` was not given,
so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import IO


def speed(seconds: float, wall_s: float) -> str:
    """``x real time`` with 2-3 significant digits (``0.52x``, ``14x``, ``230x``)."""
    if wall_s <= 0:
        return "-"
    x = seconds / wall_s
    return f"{x:.2g}x" if x < 10 else f"{x:.0f}x"


def clock(seconds: float) -> str:
    """``M:SS`` (``H:MM:SS`` from an hour)."""
    s = round(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class ProgressLine:
    """``progress(done, total)`` in seconds of audio; a no-op unless ``enabled``."""

    def __init__(self, label: str, *, enabled: bool, stream: IO[str] | None = None) -> None:
        self.label, self.enabled = label, enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: float, total: float) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self._last < 0.2 and done < total):
            return
        self._last = now
        wall = now - self.t0
        pct = 100 * done / total if total else 100
        eta = wall * (total - done) / done if done > 0 else 0.0
        self.stream.write(f"\r{self.label}  {pct:3.0f}%  {clock(done)} of {clock(total)}  "
                          f"{speed(done, wall)} real time  ETA {clock(eta)}  ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the line (the caller prints the closing line)."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False


def enabled(quiet: bool) -> bool:
    """Whether to draw progress: stderr is a terminal and not ``-q``."""
    return not quiet and sys.stderr.isatty()
