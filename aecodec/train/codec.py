"""Train the codec autoencoder on the codec training pool (CPU by default; CUDA if asked).

    aecodec train --data data/train --cache runs/pool22k --run-dir runs/v1 --minutes 60

Loss per batch of random 1.5-s crops:
``|L_hat - L|`` (ln-magnitude L1) + ``|log1p|X_hat| - log1p|X||`` (loud bins) + ``lam * kbps``,
where the latent passes through uniform noise of a random quantizer step (log-uniform in
``[step_min, step_max]``) so the decoder learns to expect quantized values at every operating
point, and ``kbps`` is the Laplace-model rate estimate. Checkpoints every 200 steps
steps to ``RUN/ckpt.pt``; rerunning the same command resumes. At the end the weights are
exported to ``--out`` as ``<model-id>-<sha12>.pt``.

Every step's terms (and the learning rate) go to ``RUN/log.csv`` (:mod:`aecodec.train.log`);
with ``--val-data`` the same terms on fixed held-out audio (never trained on) every
``--val-every`` steps and at the end; ``RUN/loss.png`` is drawn when the run ends.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from aecodec.dsp.stft import log_magnitude
from aecodec.model.autoencoder import Autoencoder, ModelConfig
from aecodec.model.weights import load_training_state, save_training_state, save_weights
from aecodec.train.dataset import build_cache, sample_crops
from aecodec.train.log import LOG_NAME, TrainLog, finish


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (defaults are the shipped model's)."""

    batch: int = 16
    frames: int = 128
    lr: float = 1e-3
    lam: float = 0.01
    step_min: float = 0.08
    step_max: float = 2.0
    mel: float = 0.0
    seed: int = 0


_MEL: dict[tuple[int, int], torch.Tensor] = {}


def mel_matrix(*, rate: int, n_fft: int) -> torch.Tensor:
    """80-band mel filterbank ``[80, bins]`` (the one :mod:`aecodec.bench.metrics` measures with)."""
    if (rate, n_fft) not in _MEL:
        from aecodec.bench.metrics import mel_filterbank
        _MEL[(rate, n_fft)] = torch.from_numpy(mel_filterbank(rate=rate, n_fft=n_fft)).float()
    return _MEL[(rate, n_fft)]


def cosine_lr(lr: float, frac: float) -> float:
    """Learning rate at ``frac`` (0..1) of the budget: cosine decay from ``lr`` to 5 % of it."""
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def loss_terms(model: torch.nn.Module, audio: torch.Tensor, *, step: torch.Tensor,
               lam: float, mel: float = 0.0) -> dict[str, torch.Tensor]:
    """Distortion and rate terms for a batch ``audio [B, samples]``, quantizer ``step [B,1,1]``.

    ``model`` is an :class:`Autoencoder` or its DistributedDataParallel wrapper. With
    ``mel > 0`` adds ``mel * |ln(mel_hat + 1e-5) - ln(mel + 1e-5)|`` on 80-band power mel
    spectra, which weighs the low and mid frequencies the way listeners (and mel_l1) do.
    """
    inner = model.module if hasattr(model, "module") else model
    if not isinstance(inner, Autoencoder):
        raise TypeError(f"loss_terms() needs an Autoencoder, got {type(inner).__name__}")
    st = inner.cfg.stft
    target = log_magnitude(audio, n_fft=st.n_fft, hop=st.hop)
    recon, bits = model(target, step)
    l1 = (recon - target).abs().mean()
    loud = (torch.log1p(torch.exp(recon)) - torch.log1p(torch.exp(target))).abs().mean()
    kbps = (bits / (audio.shape[-1] / st.rate) / 1000).mean()
    terms = {"loss": l1 + loud + lam * kbps, "l1": l1, "loud": loud, "kbps": kbps}
    if mel > 0:
        fb = mel_matrix(rate=st.rate, n_fft=st.n_fft)
        power = (torch.exp(2 * recon.clamp(max=10.0)), torch.exp(2 * target))
        m_hat, m_ref = (torch.log(torch.einsum("mf,bft->bmt", fb, p) + 1e-5) for p in power)
        terms["mel"] = (m_hat - m_ref).abs().mean()
        terms["loss"] = terms["loss"] + mel * terms["mel"]
    return terms


def heldout_audio(paths: list[Path], *, rate: int, length: int, count: int = 8) -> torch.Tensor:
    """Fixed evaluation audio ``[n, length]``: the first ``length`` samples (mono, at ``rate``)
    of the first ``count`` files under ``paths`` (sorted) that are long enough."""
    from aecodec.dsp.audio import AUDIO_SUFFIXES, mixdown, read_audio
    from aecodec.dsp.resample import resample

    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*"))
                   if f.suffix.lower() in AUDIO_SUFFIXES)
    clips = []
    for f in files:
        a = read_audio(f)
        x = resample(mixdown(a.samples), orig_rate=a.rate, new_rate=rate)
        if len(x) >= length:
            clips.append(x[:length])
        if len(clips) == count:
            break
    if not clips:
        from aecodec.errors import InputError
        raise InputError(f"no held-out audio of {length / rate:.1f} s or more in "
                         f"{', '.join(map(str, paths))}")
    return torch.from_numpy(np.stack(clips))


def heldout_terms(model: torch.nn.Module, audio: torch.Tensor, cfg: TrainConfig) -> dict[str, float]:
    """:func:`loss_terms` on held-out ``audio [n, samples]``, one fixed quantizer step per clip
    (log-spaced over the training range), fixed noise; the training RNG is left untouched."""
    steps = torch.exp(torch.linspace(math.log(cfg.step_min), math.log(cfg.step_max),
                                     len(audio)))[:, None, None].to(audio.device)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        terms = loss_terms(model, audio, step=steps, lam=cfg.lam, mel=cfg.mel)
    return {k: float(v) for k, v in terms.items()}


def _dist() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed when launched by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def train(*, data: list[Path], cache: Path, run: Path, minutes: float, out: Path | None,
          model_id: str, cfg: TrainConfig, mcfg: ModelConfig, save_every: int = 200,
          device: str = "cpu", threads: int = 0, max_steps: int = 0,
          init: Path | None = None, val_data: list[Path] | None = None,
          val_every: int = 500) -> Path:
    """Train (or resume) and return the path of the checkpoint or exported weights.

    Under ``torchrun --nproc_per_node N`` every process trains on its own random crops with
    DistributedDataParallel (gloo on CPU, nccl on GPU: the effective batch is ``N * batch``);
    rank 0 builds the data cache, writes checkpoints and exports the weights. Stops after
    ``minutes`` of wall time or ``max_steps`` steps (0: no step limit), whichever comes first.
    Rank 0 logs every step to ``run/log.csv`` and draws ``run/loss.png`` at the end.
    """
    if threads:
        torch.set_num_threads(threads)
    rank, world = _dist()
    if world > 1 and device.startswith("cuda"):
        device = f"cuda:{rank % torch.cuda.device_count()}"
    if rank == 0:
        build_cache(data, cache, rate=mcfg.stft.rate)
    if world > 1:
        torch.distributed.barrier()
    pool = build_cache(data, cache, rate=mcfg.stft.rate, progress=False)
    log = sys.stderr if rank == 0 else open(os.devnull, "w")  # noqa: SIM115
    print(f"training pool: {len(pool.names)} tracks, {pool.hours:.2f} h; {world} process(es)",
          file=log)
    run.mkdir(parents=True, exist_ok=True)
    ckpt = run / "ckpt.pt"
    model = Autoencoder(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-5)
    step, elapsed = 0, 0.0
    if init is not None and not ckpt.exists():
        model.load_state_dict(load_training_state(init)["model"])
        print(f"warm start from {init}", file=log)
    if ckpt.exists():
        saved = load_training_state(ckpt)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        step, elapsed = int(saved["step"]), float(saved["elapsed"])
        print(f"resumed {ckpt} at step {step} ({elapsed / 60:.1f} min)", file=log)
    val = (heldout_audio(val_data, rate=mcfg.stft.rate, length=4 * cfg.frames * mcfg.stft.hop)
           .to(device) if val_data and rank == 0 else None)
    tlog = TrainLog(run / LOG_NAME, resume_step=step, seconds=elapsed) if rank == 0 else None
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    rng = np.random.default_rng([cfg.seed, step, rank])
    length = (cfg.frames - 1) * mcfg.stft.hop
    budget = minutes * 60
    t0 = time.time() - elapsed
    avg: dict[str, float] = {}
    skipped = 0

    def snapshot() -> dict[str, object]:
        return {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "elapsed": time.time() - t0, "config": mcfg.to_dict(), "train": asdict(cfg)}

    while True:
        stop = torch.tensor(float(time.time() - t0 >= budget or 0 < max_steps <= step))
        if world > 1:
            torch.distributed.all_reduce(stop, op=torch.distributed.ReduceOp.MAX)
        if stop.item():
            break
        # cosine schedule over the step budget when one is given (reproducible), else over time
        frac = step / max_steps if max_steps else min(1.0, (time.time() - t0) / budget)
        for g in opt.param_groups:  # cosine decay to 5% over the time budget
            g["lr"] = cosine_lr(cfg.lr, frac)
        audio = torch.from_numpy(sample_crops(pool, batch=cfg.batch, length=length, rng=rng))
        log_step = rng.uniform(math.log(cfg.step_min), math.log(cfg.step_max), (cfg.batch, 1, 1))
        terms = loss_terms(net, audio.to(device), lam=cfg.lam, mel=cfg.mel,
                           step=torch.from_numpy(np.exp(log_step)).float().to(device))
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not (torch.isfinite(terms["loss"]) and torch.isfinite(norm)):
            skipped += 1  # a non-finite batch never reaches the weights
            if skipped > 100:
                raise RuntimeError(f"training diverged: {skipped} non-finite batches")
            continue
        opt.step()
        step += 1
        values = {k: float(v.detach()) for k, v in terms.items()}
        for k, v in values.items():
            avg[k] = 0.98 * avg.get(k, v) + 0.02 * v
        if tlog is not None:
            tlog.write(step, {**values, "lr": opt.param_groups[0]["lr"]})
            if val is not None and step % val_every == 0:
                tlog.write(step, heldout_terms(model, val, cfg), split="heldout")
        if step % 10 == 0:
            print(f"\rstep {step} {(time.time() - t0) / 60:5.1f}/{minutes:.0f} min  " +
                  "  ".join(f"{k} {v:.4f}" for k, v in avg.items()), end="", file=log)
        if step % save_every == 0 and rank == 0:
            save_training_state(ckpt, snapshot())
    elapsed = time.time() - t0
    path = ckpt
    if tlog is not None:
        if val is not None and step % val_every:
            tlog.write(step, heldout_terms(model, val, cfg), split="heldout")
        finish(tlog, title=f"{model_id}: {step} steps, {elapsed / 60:.1f} min")
    if rank == 0:
        save_training_state(ckpt, snapshot())
        print(f"\ndone: {step} steps in {elapsed / 60:.1f} min; log {run / LOG_NAME}", file=log)
        if out is not None:
            info = {"steps": step, "minutes": round(elapsed / 60, 1), "train": asdict(cfg),
                    "data": [str(d) for d in data], "hours": round(pool.hours, 2),
                    "tracks": len(pool.names), "device": device, "processes": world,
                    "threads": torch.get_num_threads(),
                    "final": {k: round(v, 4) for k, v in avg.items()}}
            path = save_weights(model.cpu(), out, model_id=model_id, info=info)
            print(f"weights: {path}", file=log)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return path


def main(argv: list[str] | None = None) -> None:
    """``aecodec train ARGS`` (:mod:`aecodec.cli.train`: the options and their defaults)."""
    from aecodec.cli.main import main as cli
    cli(["train", *(sys.argv[1:] if argv is None else argv)], prog_name="aecodec")


if __name__ == "__main__":
    main()
