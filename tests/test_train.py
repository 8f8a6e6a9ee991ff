"""Training: a few steps on a tiny pool, resume, 2-process DDP (gloo), held-out guard."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from aecodec.errors import AecError
from aecodec.model.weights import load_weights
from aecodec.train.dataset import find_tracks
from aecodec.train.log import read_log

from .conftest import synth_music

TINY = ["--hidden", "8", "--latent", "4", "--batch", "2", "--minutes", "10", "--threads", "1"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pool")
    for i in range(2):
        sf.write(root / f"track{i}.wav", synth_music(31.0, 8000, seed=i), 8000)
    sf.write(root / "sfx.wav", synth_music(2.0, 8000), 8000)  # too short: skipped
    return root


def _train(args: list[str], *, launcher: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = (launcher or [sys.executable, "-m"]) + ["aecodec.train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)


def test_train_resume_and_export(pool: Path, tmp_path: Path) -> None:
    sf.write(tmp_path / "val.wav", synth_music(7.0, 8000, seed=9), 8000)  # held out
    common = ["--data", str(pool), "--cache", str(tmp_path / "cache"), "--run-dir",
              str(tmp_path / "run"), "--out", str(tmp_path / "models"), *TINY,
              "--val-data", str(tmp_path / "val.wav"), "--val-every", "2"]
    first = _train([*common, "--steps", "3"])
    assert first.returncode == 0, first.stderr
    assert "training pool: 2 tracks" in first.stderr
    second = _train([*common, "--steps", "5"])
    assert second.returncode == 0, second.stderr
    assert "resumed" in second.stderr and "at step 3" in second.stderr
    weights = sorted((tmp_path / "models").glob("aecodec-custom-*.npz"))
    assert len(weights) == 2
    infos = [load_weights(w)[1]["info"] for w in weights]
    assert sorted(i["steps"] for i in infos) == [3, 5]
    # the log: every step's terms, held-out figures every 2 steps and at each end, one curve
    rows = read_log(tmp_path / "run" / "log.csv")
    train = [int(r["step"]) for r in rows if r["split"] == "train" and r["quantity"] == "loss"]
    held = [int(r["step"]) for r in rows if r["split"] == "heldout" and r["quantity"] == "l1"]
    assert train == [1, 2, 3, 4, 5] and held == [2, 3, 4, 5]
    assert {r["quantity"] for r in rows} >= {"loss", "l1", "loud", "kbps", "lr"}
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_distributed_two_processes(pool: Path, tmp_path: Path) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2", "-m"]
    res = _train(["--data", str(pool), "--cache", str(tmp_path / "cache"), "--run-dir",
                  str(tmp_path / "run"), "--out", str(tmp_path / "models"), "--steps", "2",
                  *TINY], launcher=launcher)
    assert res.returncode == 0, res.stderr[-2000:]
    (weights,) = (tmp_path / "models").glob("aecodec-custom-*.npz")
    model, meta = load_weights(weights)
    assert meta["info"]["processes"] == 2 and meta["info"]["steps"] == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_train_cli_style_and_shipped_id_guard(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aecodec.cli.main import main
    from aecodec.cli.train import DEFAULTS
    from aecodec.model.autoencoder import ModelConfig
    from aecodec.train.codec import TrainConfig

    assert DEFAULTS == {"hidden": ModelConfig.hidden, "latent": ModelConfig.latent,
                        **{k: getattr(TrainConfig, k) for k in DEFAULTS
                           if k not in ("hidden", "latent")}}
    help_text = CliRunner().invoke(main, ["train", "--help"]).stdout
    assert "Usage: aecodec train" in help_text and "default: 60.0" in help_text
    assert "--save-every" in help_text and "aecodec-custom" in help_text
    res = CliRunner().invoke(main, ["train", "--model-id", "aecodec-v1", "--out",
                                    str(tmp_path)])
    assert res.exit_code == 5 and "a shipped model uses this id" in res.stderr
    assert res.stderr.count("\n") == 1 and not list(tmp_path.iterdir())


def test_heldout_music_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "wesnoth-1.16-music" / "x.ogg"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    with pytest.raises(AecError, match="classification source"):
        find_tracks([tmp_path])
