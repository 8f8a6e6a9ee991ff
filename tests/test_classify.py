"""Genre classification: train-classifier end to end on a tiny synthetic dataset, classify
audio and .aec files (they must agree), JSON output, and every refusal as a one-line error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from aecodec.cli.main import main
from aecodec.genre.head import find_classifier, load_classifier, segment_starts
from aecodec.model.autoencoder import Autoencoder, ModelConfig
from aecodec.model.weights import save_weights
from aecodec.train.classifier import Track, split_by_track

RATE = 22050


def run(*args: object, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def low_chords(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Slow sine chords under 400 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros_like(t)
    for k in range(int(seconds)):
        root = 65 * 2 ** (rng.integers(0, 12) / 12)
        seg = (t >= k) & (t < k + 1)
        for ratio in (1, 1.25, 1.5, 2):
            out[seg] += np.sin(2 * np.pi * root * ratio * t[seg]) * np.hanning(seg.sum())
    return (0.2 * out).astype(np.float32)


def high_noise(seconds: float, seed: int) -> np.ndarray:
    """Noise bursts and high-pitched beeps above 2 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    noise = np.diff(rng.standard_normal(n + 1))  # high-passed
    gate = (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0).astype(float)
    beep = np.sin(2 * np.pi * rng.uniform(2500, 5000) * t) * (1 - gate)
    return (0.1 * noise * gate + 0.2 * beep).astype(np.float32)


def write(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype="PCM_16")
    return path


def tiny_codec(folder: Path, seed: int, model_id: str = "tiny-test") -> Path:
    """A tiny random codec model, as tests/conftest.py's ``tiny_model`` makes it."""
    torch.manual_seed(seed)
    model = Autoencoder(ModelConfig(hidden=16, latent=8, blocks=1))
    last = model.encoder.net[-1]
    assert isinstance(last, torch.nn.Conv1d)
    with torch.no_grad():  # a spread-out latent, so rate control has a range to work with
        last.weight.mul_(40.0)
    return save_weights(model, folder, model_id=model_id, info={"purpose": "tests"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny codec, a two-genre dataset (5 x 8 s each) and a classifier trained on it."""
    root = tmp_path_factory.mktemp("classify")
    codec = tiny_codec(root / "models", seed=0)
    data = root / "data"
    for i in range(5):
        write(data / "low" / f"low{i}.wav", low_chords(8, seed=i))
        write(data / "high" / f"high{i}.wav", high_noise(8, seed=i))
    env = {"AECODEC_MODELS": str(root / "models")}
    code, out, err = run("train-classifier", data, "-o", root / "out" / "my-genres.npz",
                         "--steps", "150", "--hidden", "32", "--codec-model", codec, env=env)
    assert code == 0, err
    model = next((root / "out").glob("my-genres-*.npz"))
    return {"root": root, "codec": codec, "data": data, "model": model,
            "stdout": Path(out)}


@pytest.fixture(autouse=True)
def _models(trained: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AECODEC_MODELS", str(trained["root"] / "models"))


def test_train_classifier_end_to_end(trained: dict[str, Path]) -> None:
    out = str(trained["stdout"])
    assert "held-out accuracy 1.000 on 2 tracks" in out
    assert re.fullmatch(r"my-genres-[0-9a-f]{12}\.npz", trained["model"].name)
    assert trained["model"].stat().st_size < 100_000
    head, meta = load_classifier(trained["model"])
    assert head.labels == ["high", "low"] and meta["codec"]["id"] == "tiny-test"
    assert len(meta["info"]["val_tracks"]) == 2
    # the name without its hash finds the file too
    assert find_classifier(trained["root"] / "out" / "my-genres.npz") == trained["model"]


def test_classify_audio_and_aec_agree(trained: dict[str, Path], tmp_path: Path) -> None:
    files, truth = [], {}
    for i in range(10, 14):
        for label, make in (("low", low_chords), ("high", high_noise)):
            wav = write(tmp_path / f"{label}{i}.wav", make(7, seed=i))
            truth[str(wav)] = label
            files.append(wav)
    aecs = []
    for wav, kbps in zip(files, [3, 6, 12, 6, 3, 12, 6, 3]):
        aec = wav.with_suffix(".aec")
        assert run("encode", wav, aec, "-b", kbps, "--model", trained["codec"], "-q")[0] == 0
        aecs.append(aec)
    code, out, err = run("classify", *files, *aecs, "--model", trained["model"], "--json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["file"] for r in results] == [str(p) for p in files + aecs]
    by_file = {r["file"]: r for r in results}
    for wav, aec in zip(files, aecs):
        a, b = by_file[str(wav)], by_file[str(aec)]
        assert a["label"] == truth[str(wav)] and a["input"] == "audio"
        assert b["label"] == a["label"] and b["input"] == "aec"
        assert len(a["top"]) == 2 and sum(t["probability"] for t in a["top"]) == \
            pytest.approx(1, abs=1e-3)


def test_classify_text_output(trained: dict[str, Path], tmp_path: Path) -> None:
    wav = write(tmp_path / "song.wav", np.stack([low_chords(5, 7, 44100)] * 2, axis=1),
                rate=44100)
    code, out, err = run("classify", wav, "--model", trained["model"])
    assert code == 0, err
    assert re.fullmatch(r"low  \d\.\d\d   \(high \d\.\d\d\)\n", out)
    other = write(tmp_path / "b.wav", high_noise(4, 9))
    code, out, _ = run("classify", wav, other, "--model", trained["model"])
    assert code == 0 and out.splitlines()[1].startswith(f"{other}: high  ")


@pytest.mark.parametrize("case, code, message", [
    ("short", 3, "too short to classify"),
    ("silent", 3, "no music to classify"),
    ("text", 3, "not a readable audio file"),
    ("missing", 3, "no such file"),
    ("corrupt-aec", 4, ""),
])
def test_bad_inputs(trained: dict[str, Path], tmp_path: Path, case: str, code: int,
                    message: str) -> None:
    path = tmp_path / f"{case}.wav"
    if case == "short":
        write(path, low_chords(2, 0))
    elif case == "silent":
        write(path, np.zeros(8 * RATE, np.float32))
    elif case == "text":
        path.write_text("not audio at all\n")
    elif case == "corrupt-aec":
        path = tmp_path / "bad.aec"
        assert run("encode", write(tmp_path / "x.wav", low_chords(5, 0)), path,
                   "--model", trained["codec"], "-q")[0] == 0
        data = bytearray(path.read_bytes())
        data[-20] ^= 0xFF
        path.write_bytes(bytes(data))
    got, out, err = run("classify", path, "--model", trained["model"])
    assert got == code and out == ""
    assert err.startswith("aecodec: error: ") and str(path) in err and message in err
    assert len(err.strip().splitlines()) == 1
    # among other files: the good ones are still classified, the exit code is the error's
    good = write(tmp_path / "good.wav", high_noise(4, 1))
    got, out, err = run("classify", good, path, "--model", trained["model"], "--json")
    results = json.loads(out)
    assert got == code and results[0]["label"] == "high" and "error" in results[1]


def test_mismatched_models(trained: dict[str, Path], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    head, meta = load_classifier(trained["model"])
    # a different codec model: its .aec files cannot be read by this classifier
    other = tiny_codec(tmp_path, seed=1, model_id="tiny-other")
    aec = tmp_path / "o.aec"
    assert run("encode", write(tmp_path / "o.wav", low_chords(5, 0)), aec, "--model", other,
               "-q")[0] == 0
    code, _, err = run("classify", aec, "--model", trained["model"])
    assert code == 6 and "tiny-other" in err and "trained on tiny-test" in err
    # the classifier's codec model is not installed
    monkeypatch.setenv("AECODEC_MODELS", str(tmp_path / "nowhere"))
    code, _, err = run("classify", tmp_path / "o.wav", "--model", trained["model"])
    assert code == 6 and "needs codec model tiny-test" in err
    # labels that do not fit the weights
    from aecodec.model.npz_weights import CLASSIFIER_KIND, load_npz, save_npz
    header, state = load_npz(trained["model"], kind=CLASSIFIER_KIND)
    header = {k: v for k, v in header.items() if k not in ("sha256", "file_sha256", "path")}
    relabelled = save_npz({**header, "model_id": "relabelled",
                           "labels": ["high", "low", "jazz"]}, state, tmp_path,
                          model_id="relabelled")
    code, _, err = run("classify", tmp_path / "o.wav", "--model", relabelled)
    assert code == 6 and "labels" in err and str(relabelled) in err
    # a tampered file (hash no longer matches its name), a codec file, a missing one
    tampered = tmp_path / f"tampered-{'0' * 12}.npz"
    tampered.write_bytes(trained["model"].read_bytes())
    for model, text in ((tampered, "does not match"), (trained["codec"], "not an aecodec"),
                        (tmp_path / "none.npz", "not found")):
        code, _, err = run("classify", tmp_path / "o.wav", "--model", model)
        assert code == 6 and text in err, err


def test_dataset_refusals(trained: dict[str, Path], tmp_path: Path) -> None:
    one = tmp_path / "one"
    write(one / "rock" / "a.wav", low_chords(4, 0))
    code, _, err = run("train-classifier", one, "-o", tmp_path / "m.npz",
                       "--codec-model", trained["codec"])
    assert code == 3 and "at least two labels" in err and "rock" in err
    assert "train step" not in err
    two = tmp_path / "two"
    write(two / "rock" / "a.wav", low_chords(4, 0))
    (two / "jazz").mkdir()
    (two / "jazz" / "b.wav").write_text("not audio")
    code, _, err = run("train-classifier", two, "-o", tmp_path / "m.npz",
                       "--codec-model", trained["codec"])
    assert code == 3 and "label 'jazz' has no readable audio" in err
    assert "train step" not in err and not list(tmp_path.glob("m-*.npz"))
    code, _, err = run("train-classifier", tmp_path / "nope", "-o", tmp_path / "m.npz")
    assert code == 3 and "nope" in err


def test_train_from_csv(trained: dict[str, Path], tmp_path: Path) -> None:
    data = trained["data"]
    rows = ["path,label,source"] + [f"{p},{p.parent.name},{p.parent.name}"
                                    for p in sorted(data.rglob("*.wav"))[:6]]
    csv = tmp_path / "tracks.csv"
    csv.write_text("\n".join(rows) + "\n")
    code, out, err = run("train-classifier", csv, "-o", tmp_path, "--steps", "5",
                         "--val-fraction", "0", "--codec-model", trained["codec"], "-q")
    assert code == 0 and err == "" and "no track held out" in out
    assert len(list(tmp_path.glob("aecodec-genres-*.npz"))) == 1


def test_training_log_leaves_the_model_unchanged(trained: dict[str, Path],
                                                 tmp_path: Path) -> None:
    from aecodec.train.log import read_log

    code, _, err = run("train-classifier", trained["data"], "-o", tmp_path / "my-genres.npz",
                       "--steps", "150", "--hidden", "32", "--codec-model", trained["codec"],
                       "--run-dir", tmp_path / "run", "-q")
    assert code == 0, err
    # the same bytes as the fixture's model, trained without a log
    assert [p.name for p in tmp_path.glob("my-genres-*.npz")] == [trained["model"].name]
    rows = read_log(tmp_path / "run" / "log.csv")
    assert [int(r["step"]) for r in rows if r["quantity"] == "loss"] == list(range(1, 151))
    held = [r for r in rows if r["split"] == "heldout" and r["quantity"] == "accuracy"]
    assert [int(r["step"]) for r in held] == list(range(15, 151, 15))
    assert float(held[-1]["value"]) == 1.0  # as the fixture's printed held-out accuracy


def test_split_is_by_track_and_segments_cover() -> None:
    tracks = [Track(Path(f"{lab}{i}_{clip}.wav"), lab, group=f"{lab}{i}")
              for lab in "ab" for i in range(5) for clip in range(3)]
    train, val = split_by_track(tracks, fraction=0.2, seed=0)
    assert sorted(train + val) == list(range(len(tracks))) and len(val) == 6
    assert not {tracks[i].group for i in train} & {tracks[i].group for i in val}
    assert segment_starts(63, segment=64, hop=32) == []
    assert segment_starts(64, segment=64, hop=32) == [0]
    assert segment_starts(100, segment=64, hop=32) == [0, 32, 36]


def test_shipped_classifier_fits_the_shipped_codec() -> None:
    """The default classifier must name an installed codec model; after replacing the codec,
    retrain it (docs/classification.md has the command)."""
    from aecodec.model.weights import find_weights
    path = find_classifier()
    head, meta = load_classifier(path)
    assert path.stat().st_size < 1_000_000 and meta["model_id"] == "aecodec-genres"
    assert head.labels == ["chiptune", "electronic", "orchestral", "rock-metal"]
    find_weights(meta["codec"]["id"], sha_prefix=meta["codec"]["sha256"][:12])


def test_classify_a_folder(trained: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "music"
    write(folder / "a" / "low.wav", low_chords(6, seed=20))
    write(folder / "high.wav", high_noise(6, seed=21))
    (folder / "notes.txt").write_text("not audio")
    code, out, err = run("classify", folder, "--model", trained["model"])
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{folder / 'a' / 'low.wav'}: low")
    assert lines[1].startswith(f"{folder / 'high.wav'}: high")


def test_missing_aec_is_the_same_exit_code_everywhere(tmp_path: Path) -> None:
    missing = tmp_path / "none.aec"
    for cmd in (["decode", missing], ["info", missing], ["classify", missing]):
        code, _, err = run(*cmd)
        assert code == 3 and err.count("\n") == 1 and "no such file" in err, (cmd, err)
