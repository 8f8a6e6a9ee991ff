"""The training log: CSV rows, resume, loss curve."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aecodec.errors import AecError
from aecodec.train.log import TrainLog, finish, moving_average, plot_log, read_log, series


def test_log_rows_resume_and_curve(tmp_path: Path) -> None:
    path = tmp_path / "run" / "log.csv"
    with TrainLog(path) as log:
        for step in range(1, 41):
            log.write(step, {"loss": 1 / step, "kbps": 6.0, "bad": float("nan")})
        log.write(40, {"l1": 0.5}, split="heldout")
    rows = read_log(path)
    assert len(rows) == 40 * 2 + 1 and rows[0]["quantity"] == "loss"
    assert not any(r["quantity"] == "bad" for r in rows)  # non-finite values are left out
    # a resumed run (checkpoint at step 30) drops the rows written after it, then appends
    with TrainLog(path, resume_step=30, seconds=100.0) as log:
        log.write(31, {"loss": 0.01})
    data = series(read_log(path))
    assert data[("loss", "train")][0] == list(range(1, 32))
    assert ("l1", "heldout") not in data and float(read_log(path)[-1]["seconds"]) >= 100.0
    with open(path, newline="") as f:
        assert next(csv.reader(f)) == ["step", "seconds", "split", "quantity", "value"]


def test_curve_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="loss curves need the [plot] extra")
    log = TrainLog(tmp_path / "log.csv")
    for step in range(1, 101):
        log.write(step, {"loss": 2.0 / step})
        if step % 25 == 0:
            log.write(step, {"loss": 2.5 / step}, split="heldout")
    png = finish(log, title="test run")
    assert png == tmp_path / "loss.png" and png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(AecError, match="no values to plot"):
        plot_log(tmp_path / "log.csv", tmp_path / "x.png", quantities=("nothing",))


def test_bad_logs_and_moving_average(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AecError, match="not a training log"):
        read_log(tmp_path / "x.csv")
    with pytest.raises(AecError, match="cannot read training log"):
        read_log(tmp_path / "missing.csv")
    assert moving_average([1.0, 3.0, 5.0, 7.0], width=2) == [1.0, 2.0, 4.0, 6.0]


def test_entropy_fit_logs_each_step(tmp_path: Path, tiny_model: Path) -> None:
    from aecodec.dsp.audio import Audio
    from aecodec.model.registry import load_model
    from aecodec.train.entropy import collect, fit_tables

    from .conftest import synth_music

    model = load_model(path=tiny_model)
    clips = [Audio(samples=synth_music(3.0, 22050, seed=s), rate=22050) for s in (1, 2)]
    with TrainLog(tmp_path / "log.csv") as log:
        _, report = fit_tables(collect(clips, model, kbps=[2.0, 8.0]),
                               model_sha=model[1]["sha256"], channels=model[0].cfg.latent,
                               steps=20, keep=0.5, tlog=log)
    data = series(read_log(tmp_path / "log.csv"))
    steps, bits = data[("latent_bits", "train")]
    assert steps == list(range(1, 21)) and bits[-1] < bits[0]
    assert abs(bits[-1] - report["latent_bits_per_symbol"]) < 1e-4
    assert data[("residual_bits", "train")][0] == list(range(1, 21))
