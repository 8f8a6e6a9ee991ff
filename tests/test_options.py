"""Option parsers: times and bitrates as users of ffmpeg, lame and opusenc write them."""

from __future__ import annotations

import pytest

from aecodec.cli.options import parse_kbps, parse_time


@pytest.mark.parametrize("text, seconds", [
    ("90", 90.0), ("1:30", 90.0), ("1:30.5", 90.5), ("0:05", 5.0), ("1:02:03", 3723.0),
    (".5", 0.5), ("2.", 2.0), (12.5, 12.5), ("  7 ", 7.0),
])
def test_parse_time(text: str | float, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-1", "1:60", "1:60:00", "nan", "inf", "1::2", "a", "1:2:3:4",
                                  float("nan"), -2.0])
def test_parse_time_refuses(text: str | float) -> None:
    with pytest.raises(ValueError, match="time|below 60"):
        parse_time(text)


@pytest.mark.parametrize("text, kbps", [
    ("6", 6.0), ("6k", 6.0), ("6K", 6.0), ("6kbps", 6.0), ("2.5k", 2.5), ("6000", 6.0),
    ("12 kbps", 12.0), (3, 3.0),
])
def test_parse_kbps(text: str | float, kbps: float) -> None:
    assert parse_kbps(text) == pytest.approx(kbps)


@pytest.mark.parametrize("text", ["abc", "6m", "", "nan", "-3"])
def test_parse_kbps_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a number of kbps"):
        parse_kbps(text)
