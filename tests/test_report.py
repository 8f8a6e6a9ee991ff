"""The listening report: page content, sizes, and the page in a real headless browser."""

from __future__ import annotations

import io
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aecodec.bench.metrics import all_metrics
from aecodec.bench.run import Row
from aecodec.cli.main import main
from aecodec.errors import AecError

from .browser import Browser, find_browser
from .conftest import synth_music

pytest.importorskip("matplotlib", reason="the report needs the [plot] extra (matplotlib)")

RATE = 22050
SECONDS = 2.0
FORMAT = "opus" if shutil.which("opusenc") else "flac"


def _takes(ref: np.ndarray) -> list[tuple[Row, np.ndarray | None]]:
    """Two made-up 'codecs' (a low-pass and added noise), measured for real, and a failure."""
    spec = np.fft.rfft(ref)
    spec[len(spec) // 4:] = 0
    lowpass = np.fft.irfft(spec, n=len(ref)).astype(np.float32)
    noisy = (ref + 0.02 * np.random.default_rng(0).standard_normal(len(ref))).astype(np.float32)
    out: list[tuple[Row, np.ndarray | None]] = []
    for codec, kbps, deg in (("lowpass", 6.0, lowpass), ("noise", 12.0, noisy)):
        row = Row(file="x.wav", codec=codec, target_kbps=kbps, setting="made up", kbps=kbps,
                  metrics=all_metrics(ref, deg, rate=RATE, align_first=False))
        out.append((row, deg))  # no delay: already aligned
    out.append((Row(file="x.wav", codec="broken", target_kbps=6.0, error="tool crashed"), None))
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Row]]:
    from aecodec.bench.report import ListeningReport

    path = tmp_path_factory.mktemp("report") / "report.html"
    rep = ListeningReport(path, audio_format=FORMAT, excerpt_s=SECONDS)
    rows: list[Row] = []
    for seed in (1, 2):
        ref = synth_music(3.0, RATE, seed=seed)[:, 0]
        takes = _takes(ref)
        rows += [r for r, _ in takes]
        rep.add(f"clip<{seed}>.wav", ref, takes, rate=RATE)
    rep.write(rows, {"model": "test"}, command="aecodec bench clips --html report.html")
    return path, rows


def test_page_is_self_contained(report: tuple[Path, list[Row]]) -> None:
    path, _ = report
    text = path.read_text()
    assert len(re.findall(r"<audio ", text)) == 2 * 3  # original + 2 codecs; the failure has none
    assert text.count('class="diff-img"') == 2 * 2
    assert "failed: tool crashed" in text and "clip&lt;1&gt;.wav" in text
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)  # everything inline
    assert "url(" not in text and "fetch(" not in text and "XMLHttpRequest" not in text
    assert "aecodec bench clips --html report.html" in text and "opusenc" in text
    assert "<table class=\"summary\">" in text and 'alt="rate-distortion plot"' in text
    assert path.stat().st_size < 2_000_000


def test_flac_audio_is_exact_pcm16() -> None:
    from aecodec.bench.report import page_audio

    x = synth_music(1.0, RATE)[:, 0]
    mime, data = page_audio(x, rate=RATE, audio_format="flac")
    y, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert mime == "audio/flac" and rate == RATE and np.abs(y - x).max() < 1 / 32767
    with pytest.raises(AecError, match="unknown report audio format 'wav'"):
        page_audio(x, rate=RATE, audio_format="wav")


def test_missing_plot_extra_is_reported_up_front(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from aecodec.bench.report import ListeningReport

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(AecError, match=r"--html needs matplotlib: pip install 'aecodec\[plot\]'"):
        ListeningReport(tmp_path / "r.html")


def test_spectrograms_share_one_scale() -> None:
    from aecodec.bench.spectrogram import FLOOR_DB, mel_db

    t = np.arange(RATE) / RATE
    loud = mel_db(np.sin(2 * np.pi * 1000 * t).astype(np.float32), rate=RATE)
    quiet = mel_db(0.01 * np.sin(2 * np.pi * 1000 * t).astype(np.float32), rate=RATE)
    assert -3.0 < loud.max() <= 0.5  # a full-scale sine reads about 0 dB
    assert abs((loud.max() - quiet.max()) - 40.0) < 0.5  # absolute, not normalised per picture
    assert loud.min() >= FLOOR_DB


def test_bench_html_through_the_cli(tmp_path: Path, tiny_model: Path) -> None:
    for seed in (1, 2):
        sf.write(tmp_path / f"c{seed}.wav", synth_music(SECONDS, RATE, seed=seed), RATE)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, [
        "bench", str(tmp_path / "c1.wav"), str(tmp_path / "c2.wav"), "-b", "2,4",
        "--against", "dct", "--model", str(tiny_model), "--iters", "2", "--html", str(out),
        "--html-audio", FORMAT])
    assert res.exit_code == 0, res.stderr
    assert "listening report:" in res.stderr and "10 players" in res.stderr
    text = out.read_text()
    assert len(re.findall(r"<audio ", text)) == 10 and "<h2>2. c2.wav</h2>" in text
    assert "aecodec 4 kbps" in text and "dct 2 kbps" in text
    # a folder that does not exist is refused before anything is encoded
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "c1.wav"), "--html",
                                    str(tmp_path / "no" / "r.html")])
    assert res.exit_code != 0 and "does not exist" in res.stderr


BROWSER = find_browser()


@pytest.mark.skipif(BROWSER is None, reason="no headless browser: apt-get install chromium "
                                            "(.ci/run installs it where it can)")
def test_report_in_headless_chromium(report: tuple[Path, list[Row]], tmp_path: Path) -> None:
    path, _ = report
    assert BROWSER is not None
    status = "document.getElementById('status').dataset"
    with Browser(BROWSER) as b:
        b.open(path.as_uri())
        assert b.wait_for(f"{status}.ready === {status}.total && {status}.total !== '0'"), \
            b.evaluate("document.getElementById('status').textContent")
        durations = b.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
        assert len(durations) == 6 and all(abs(d - SECONDS) < 0.1 for d in durations), durations
        assert b.evaluate("window.aecErrors") == [] and b.evaluate(f"{status}.errors") == "0"
        # keyboard A/B: the second player takes over at the first one's position
        b.evaluate("document.getElementById('a0-0').currentTime = 1.25")
        b.key("2")
        assert b.evaluate("document.querySelector('.take.active audio').id") == "a0-1"
        assert abs(b.evaluate("document.getElementById('a0-1').currentTime") - 1.25) < 0.05
        b.key("j")
        assert b.evaluate("document.querySelector('.take.active audio').id") == "a0-2"
        b.key("d")
        assert b.evaluate("getComputedStyle(document.querySelector('.diff-img')).display") \
            == "block"
        b.pump(0.3)
        urls = [e["params"]["request"]["url"] for e in b.events
                if e["method"] == "Network.requestWillBeSent"]
        assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls[:3]
        assert b.problems() == []
        shot = tmp_path / "report.png"
        b.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
