"""The genre-set tools: producer-fingerprint augmentations and the held-out clip measures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from aecodec.train.genre_aug import augment, band_limit, compress, tilt

RATE = 22050
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _band_db(x: np.ndarray, lo: float, hi: float, rate: int = RATE) -> float:
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(10 * np.log10(p[(f >= lo) & (f < hi)].sum()))


def test_tilt_changes_the_slope_by_the_asked_amount() -> None:
    x = np.random.default_rng(0).standard_normal(RATE * 2)
    y = tilt(x, rate=RATE, db_per_octave=3.0)
    # 500-1000 Hz vs 2000-4000 Hz: two octaves apart -> +6 dB relative
    gain = (_band_db(y, 2000, 4000) - _band_db(x, 2000, 4000)) - (
        _band_db(y, 500, 1000) - _band_db(x, 500, 1000))
    assert gain == pytest.approx(6.0, abs=0.3)


def test_band_limit_removes_the_top() -> None:
    x = np.random.default_rng(1).standard_normal(RATE * 2)
    y = band_limit(x, rate=RATE, low_rate=8000)
    assert len(y) == len(x)
    assert _band_db(y, 5000, 11000) < _band_db(x, 5000, 11000) - 30


def test_compress_keeps_rms_and_lowers_crest() -> None:
    t = np.arange(RATE * 2) / RATE
    x = np.sin(2 * np.pi * 220 * t) * np.where(t < 1, 0.05, 0.8)  # quiet then loud
    y = compress(x, rate=RATE, threshold_db=12, ratio=6)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-6)
    ratio_in = np.abs(x[RATE:]).max() / np.abs(x[:RATE]).max()
    ratio_out = np.abs(y[RATE + 4000:]).max() / np.abs(y[:RATE - 4000]).max()
    assert ratio_out < ratio_in / 2


def test_augment_is_seeded_bounded_and_changes_the_audio() -> None:
    x = 0.3 * np.random.default_rng(2).standard_normal(RATE * 3).astype(np.float32)
    a = augment(x, rate=RATE, rng=np.random.default_rng(5))
    b = augment(x, rate=RATE, rng=np.random.default_rng(5))
    c = augment(x, rate=RATE, rng=np.random.default_rng(6))
    assert a.dtype == np.float32 and a.shape == x.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a).max() <= 1.0


def test_heldout_44k_measures() -> None:
    mod = _script("make_heldout_44k")
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((44100, 1)).astype(np.float32) * 0.1
    m = mod.measures(np.repeat(noise, 2, axis=1))
    assert m["hf_db"] == pytest.approx(10 * np.log10(9000 / 22050), abs=0.3)  # white noise
    assert m["lr_corr"] == pytest.approx(1.0)
    assert mod.passes(m, "fb", 2) and not mod.passes(m, "stereo", 2)  # mono copy: not stereo
    wide = np.concatenate([noise, rng.standard_normal((44100, 1)).astype(np.float32) * 0.1], 1)
    mw = mod.measures(wide)
    assert abs(mw["lr_corr"]) < 0.05 and mod.passes(mw, "stereo", 2)
    t = np.arange(44100) / 44100
    low = np.sin(2 * np.pi * 440 * t)[:, None].astype(np.float32) * 0.3
    assert not mod.passes(mod.measures(low), "fb", 1)  # nothing above 11 kHz


def test_genre_rules_first_match_wins_and_variants_are_left_out() -> None:
    mod = _script("make_genre_set")
    rules = mod.read_rules(SCRIPTS / "genre_rules.tsv")
    r = mod.match(rules, "ardentryst", "usr/share/games/ardentryst/Music/theme1_raw.ogg")
    assert r is not None and r.genre == "-"
    r = mod.match(rules, "ardentryst", "usr/share/games/ardentryst/Music/theme1.ogg")
    assert r is not None and (r.genre, r.artist) == ("orchestral", "Jordan Trudgett")
    assert mod.match(rules, "naev-data", "usr/share/naev/dat/snd/music/intro.ogg") is None
    genres = {x.genre for x in rules} - {"-"}
    assert genres == {"orchestral", "rock-metal", "electronic", "chiptune", "ambient"}
    assert all(x.package in mod.LICENCES for x in rules)
