"""Option value parsers shared by the commands: times (``90``, ``1:30``, ``1:02:03.5``) and
bitrates (``6``, ``6k``, ``6kbps``, ``6000``).

Each raises ``ValueError`` with a message that repeats the bad value; :class:`TimeType` and
:class:`KbpsType` wrap them as click parameter types (a usage error, exit 2).
"""

from __future__ import annotations

import math
import re
from typing import Any

import click

_TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)")


def parse_time(value: str | float) -> float:
    """Seconds from ``S``, ``M:SS`` or ``H:MM:SS`` (each may end in a fraction, ``1:30.5``).

    Raises ``ValueError`` for anything else (negative, NaN, inf, empty, minutes or seconds of
    60 or more after a colon).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{value!r} is not a time >= 0")
        return seconds
    text = str(value).strip()
    m = _TIME.fullmatch(text)
    if not m:
        raise ValueError(f"{value!r} is not a time (seconds, M:SS or H:MM:SS)")
    hours, minutes, seconds = m.group(1), m.group(2), float(m.group(3))
    if minutes is not None and seconds >= 60:
        raise ValueError(f"{value!r}: seconds after a colon must be below 60")
    if hours is not None and int(minutes) >= 60:
        raise ValueError(f"{value!r}: minutes after a colon must be below 60")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + seconds


_KBPS = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(k|kbps|kbit/s|kb/s)?", re.IGNORECASE)


def parse_kbps(value: str | float) -> float:
    """kbps from ``6``, ``6k``, ``6kbps`` or ``6000`` (a plain number of 500 or more is taken
    as bits per second, as ``lame -b`` / ``ffmpeg -b:a 6000`` users write it)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
    else:
        m = _KBPS.fullmatch(str(value).strip())
        if not m:
            raise ValueError(f"{value!r} is not a number of kbps")
        v = float(m.group(1))
        if m.group(2) is None and v >= 500:
            v /= 1000
    if not math.isfinite(v):
        raise ValueError(f"{value!r} is not a number of kbps")
    return v


class TimeType(click.ParamType):
    """A click parameter: :func:`parse_time`."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeType()
