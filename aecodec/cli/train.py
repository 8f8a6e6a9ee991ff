"""``aecodec train``: the codec trainer (:mod:`aecodec.train.codec`) in the same click style as
the other commands (defaults shown in ``--help``, one-line errors).

``python -m aecodec.train`` and ``torchrun ... -m aecodec.train`` run this same command. The
defaults below mirror ``TrainConfig`` / ``ModelConfig`` (a test checks they agree) so that
``--help`` does not import torch. A model id that a shipped model already uses is refused
unless ``--allow-shipped-id``: two weights files under one id would make the id ambiguous.
"""

from __future__ import annotations

from pathlib import Path

import click

from aecodec.errors import OutputError

DEFAULTS = {"hidden": 192, "latent": 64, "batch": 16, "lr": 1e-3, "lam": 0.01,
            "step_min": 0.08, "step_max": 2.0, "mel": 0.0}
"""The shipped model's hyper-parameters (``TrainConfig`` and ``ModelConfig`` defaults)."""
DEFAULT_ID = "aecodec-custom"


def shipped_ids() -> set[str]:
    """Model ids of the weights shipped in the repository's ``models/`` folder."""
    models = Path(__file__).resolve().parents[2] / "models"
    if not models.is_dir():
        return set()
    return {p.stem.rsplit("-", 1)[0] for p in (*models.glob("*.npz"), *models.glob("*.pt"))}


@click.command()
@click.option("--data", type=click.Path(path_type=Path), multiple=True,
              default=[Path("data/train")], show_default=True,
              help="Training audio folder (repeat for several); classification sources are "
                   "refused.")
@click.option("--cache", type=click.Path(path_type=Path), default=Path("runs/pool22k"),
              show_default=True, help="Where the resampled training pool is cached.")
@click.option("--run-dir", type=click.Path(path_type=Path), default=Path("runs/custom"),
              show_default=True, help="Checkpoint folder (rerunning resumes from it).")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Wall-clock budget.")
@click.option("--steps", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many steps (0: only the time budget).")
@click.option("--save-every", type=click.IntRange(min=1), default=200, show_default=True,
              help="Checkpoint every N steps.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("models"),
              show_default=True, help="Folder for the exported weights.")
@click.option("--model-id", default=DEFAULT_ID, show_default=True,
              help="Id of the exported weights (<id>-<sha12>.pt).")
@click.option("--allow-shipped-id", is_flag=True,
              help="Allow an id a shipped model uses (e.g. to retrain aecodec-v1).")
@click.option("--hidden", type=click.IntRange(1, 4096), default=DEFAULTS["hidden"],
              show_default=True, help="Hidden channels.")
@click.option("--latent", type=click.IntRange(1, 4096), default=DEFAULTS["latent"],
              show_default=True, help="Latent channels.")
@click.option("--batch", type=click.IntRange(1, 4096), default=DEFAULTS["batch"],
              show_default=True, help="Crops per batch and process.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS["lr"],
              show_default=True, help="Adam learning rate.")
@click.option("--lam", type=click.FloatRange(min=0), default=DEFAULTS["lam"],
              show_default=True, help="Weight of the rate term.")
@click.option("--step-min", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULTS["step_min"], show_default=True, help="Smallest quantizer step.")
@click.option("--step-max", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULTS["step_max"], show_default=True, help="Largest quantizer step.")
@click.option("--mel", type=click.FloatRange(min=0), default=DEFAULTS["mel"],
              show_default=True, help="Weight of the log-mel L1 term.")
@click.option("--init", type=click.Path(path_type=Path), default=None,
              help="Warm-start from another run's ckpt.pt (weights only).")
@click.option("--val-data", type=click.Path(path_type=Path), multiple=True,
              help="Held-out audio (files or folders; repeat) for the log's held-out figures.")
@click.option("--val-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Steps between held-out figures.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="Torch threads per process (0: torch's default).")
def train(data: tuple[Path, ...], cache: Path, run_dir: Path, minutes: float, steps: int,
          save_every: int, out: Path, model_id: str, allow_shipped_id: bool, hidden: int,
          latent: int, batch: int, lr: float, lam: float, step_min: float, step_max: float,
          mel: float, init: Path | None, val_data: tuple[Path, ...], val_every: int,
          device: str, threads: int) -> None:
    """Train the codec model on the codec training pool (see docs/models.md); runs unchanged
    under `torchrun --nproc_per_node N -m aecodec.train`.

    \b
      aecodec train --data data/train --minutes 60 --model-id my-codec
    """
    if model_id in shipped_ids() and not allow_shipped_id:
        raise OutputError(f"--model-id {model_id}: a shipped model uses this id "
                          "(pick another, or pass --allow-shipped-id)")
    from aecodec.errors import require_torch
    require_torch("aecodec train")
    from aecodec.model.autoencoder import ModelConfig
    from aecodec.train.codec import TrainConfig
    from aecodec.train.codec import train as run
    run(data=list(data), cache=cache, run=run_dir, minutes=minutes, out=out, model_id=model_id,
        device=device, threads=threads, max_steps=steps, init=init, save_every=save_every,
        val_data=list(val_data) or None, val_every=val_every,
        cfg=TrainConfig(batch=batch, lam=lam, lr=lr, step_min=step_min, step_max=step_max,
                        mel=mel),
        mcfg=ModelConfig(hidden=hidden, latent=latent))
