"""Command-line genre classification: ``aecodec classify`` and ``aecodec train-classifier``.

``register(main)`` adds both commands to the ``aecodec`` group, which turns every
:class:`~aecodec.errors.AecError` into a one-line message and its exit code. Torch is imported
inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from aecodec.errors import AecError, InputError, OutputError

TOP = 3


def _format(result: dict[str, Any], *, prefix: str) -> str:
    (best, p), *rest = [(t["label"], t["probability"]) for t in result["top"]]
    others = ", ".join(f"{label} {q:.2f}" for label, q in rest)
    return f"{prefix}{best}  {p:.2f}" + (f"   ({others})" if others else "")


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--model", "model", default=None, metavar="PATH|ID",
              help="Classifier file or id [default: the shipped aecodec-genres].")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
def classify(inputs: tuple[Path, ...], model: str | None, as_json: bool) -> None:
    """Name the genre of each INPUT: audio (WAV/FLAC/OGG/MP3) or .aec (read as its latent,
    high-band and stereo-image layers, without decoding), or a folder of them (searched
    recursively). Prints the label, its probability and the runners-up. The shipped
    classifier (file-level statistics, trained on 49 artist groups; leave-one-artist-out
    figures in docs/classification.md) knows these

    \b
      labels: chiptune, electronic, orchestral, rock-metal

    \b
      aecodec classify song.wav
      aecodec classify *.aec --json
      aecodec classify music/
    """
    from aecodec.dsp.audio import AUDIO_SUFFIXES
    from aecodec.files.ops import expand_inputs
    folders = any(p.is_dir() for p in inputs)
    inputs = tuple(f for f, _ in expand_inputs(list(inputs), suffixes=(*AUDIO_SUFFIXES, ".aec")))
    if not inputs:
        raise InputError("no audio or .aec files in the folders given")
    if len(inputs) == 1 and not inputs[0].is_file():  # before the models load
        raise InputError(f"{inputs[0]}: no such file")
    from aecodec.genre.head import classify_file, find_classifier, load_classifier
    head, meta = load_classifier(find_classifier(model))
    results: list[dict[str, Any]] = []
    failed: list[AecError] = []
    for path in inputs:
        try:
            result = classify_file(path, head=head, meta=meta, top=TOP)
        except AecError as exc:
            if len(inputs) == 1 and not folders:
                raise
            click.echo(f"aecodec: error: {str(exc).replace(chr(10), ' ')}", err=True)
            results.append({"file": str(path), "error": str(exc)})
            failed.append(exc)
            continue
        results.append(result)
        if not as_json:
            click.echo(_format(result, prefix="" if len(inputs) == 1 and not folders
                               else f"{path}: "))
    if as_json:
        click.echo(json.dumps(results, indent=2))
    if failed:  # one code when every failure agrees, else 1 (README: exit codes)
        codes = {e.exit_code for e in failed}
        sys.exit(codes.pop() if len(codes) == 1 else 1)


@click.command("train-classifier")
@click.argument("data", type=click.Path(path_type=Path, readable=False))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="NAME.pt (written as NAME-<sha12>.pt) or a folder (aecodec-genres-<sha12>.pt).")
@click.option("--codec-model", type=click.Path(path_type=Path), default=None,
              help="Codec weights whose encoder gives the features [default: the shipped one].")
@click.option("--val-fraction", type=click.FloatRange(0, 0.9), default=0.2, show_default=True,
              help="Share of each label's tracks held out for validation (by track).")
@click.option("--steps", type=click.IntRange(1, 10**6), default=1500, show_default=True,
              help="Training steps (batches of 64 segments).")
@click.option("--hidden", type=click.IntRange(4, 1024), default=96, show_default=True,
              help="Hidden channels of the head.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--run-dir", type=click.Path(path_type=Path), default=None,
              help="Write the training log here: log.csv (loss per step, held-out accuracy "
                   "every tenth of the run) and loss.png.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def train_classifier(data: Path, output: Path, codec_model: Path | None, val_fraction: float,
                     steps: int, hidden: int, seed: int, run_dir: Path | None,
                     quiet: bool) -> None:
    """Train a genre classifier on DATA: a folder with one sub-folder of audio per label, or a
    CSV of path,label rows (optional source and track columns). Prints the held-out accuracy.
    """
    if output.suffix in (".npz", ".pt"):
        out_dir, model_id = output.parent, output.stem
    else:
        out_dir, model_id = output, "aecodec-genres"
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: not a directory")
    if not data.exists():
        raise InputError(f"{data}: no such dataset folder or CSV")
    from aecodec.errors import require_torch
    require_torch("aecodec train-classifier")
    from aecodec.genre.torch_head import save_classifier
    from aecodec.model.registry import load_model
    from aecodec.train.classifier import train_classifier as train
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - t0:6.1f} s] {msg}", err=True)

    codec = load_model(path=codec_model) if codec_model else load_model()
    head, info = train(data, model=codec, val_fraction=val_fraction, steps=steps, seed=seed,
                       hidden=hidden, log=log, run_dir=run_dir)
    path = save_classifier(head, out_dir, model_id=model_id,
                           codec={"id": codec[1]["model_id"], "sha256": codec[1]["sha256"]},
                           info=info)
    click.echo(f"wrote {path} ({len(head.labels)} labels: {', '.join(head.labels)})")
    if "val_accuracy" in info:
        n = len(info["val_tracks"])  # type: ignore[arg-type]
        click.echo(f"held-out accuracy {info['val_accuracy']:.3f} on {n} tracks "
                   f"(segments: {info['val_segment_accuracy']:.3f})")
    else:
        click.echo("held-out accuracy: none (no track held out)")


def register(group: click.Group) -> None:
    """Add ``classify`` and ``train-classifier`` to ``group``."""
    group.add_command(classify)
    group.add_command(train_classifier)
