"""The runtime needs no torch: encode, decode, info, classify and bench run in a fresh
interpreter where ``import torch`` fails, and never import it; a command that needs torch says
so in one line with the install hint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import synth_music

ROOT = Path(__file__).resolve().parent.parent

BLOCK_TORCH = textwrap.dedent("""
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTorch())
""")

RUN = BLOCK_TORCH + textwrap.dedent("""
    import json
    from aecodec.cli.main import main

    codes = {}
    for args in json.loads(sys.argv[1]):
        try:
            main(args, standalone_mode=False)
            codes[args[0]] = 0
        except SystemExit as exc:
            codes[args[0]] = exc.code
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    print(json.dumps({"codes": codes, "torch": loaded}))
""")


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(ROOT),
                                                       "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_commands_run_without_torch(tmp_path: Path) -> None:
    wav = tmp_path / "music.wav"
    sf.write(wav, synth_music(4.0, channels=2), 22050)
    cmds = [["encode", str(wav), str(tmp_path / "m.aec"), "-q"],
            ["info", str(tmp_path / "m.aec")],
            ["decode", str(tmp_path / "m.aec"), str(tmp_path / "m.wav"), "-q"]]
    res = _run(RUN, json.dumps(cmds), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out == {"codes": {"encode": 0, "info": 0, "decode": 0}, "torch": []}, res.stderr
    y, rate = sf.read(tmp_path / "m.wav", dtype="float32")
    assert rate == 22050 and y.shape == (4 * 22050, 2) and np.isfinite(y).all()
    assert np.sqrt(np.mean(y ** 2)) > 0.01


def test_classify_and_bench_run_without_torch(tmp_path: Path) -> None:
    wav = tmp_path / "music.wav"
    sf.write(wav, synth_music(8.0), 22050)
    cmds = [["classify", str(wav)], ["bench", str(wav), "-b", "6"]]
    res = _run(RUN, json.dumps(cmds), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out == {"codes": {"classify": 0, "bench": 0}, "torch": []}, res.stderr


def test_training_without_torch_says_how_to_install(tmp_path: Path) -> None:
    script = BLOCK_TORCH + "from aecodec.cli.main import main\nmain(sys.argv[1:])\n"
    for cmd in (["train", "--steps", "1"], ["train-classifier", "--help"]):
        res = subprocess.run([sys.executable, "-c", script, *cmd], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        if cmd[-1] == "--help":
            assert res.returncode == 0  # help needs no torch
            continue
        assert res.returncode == 7, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs torch" in lines[0] and "aecodec[train]" in lines[0]
