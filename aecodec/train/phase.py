"""Train the learned initial phase (:mod:`aecodec.model.phaseinit`) on top of a frozen codec model.

    python -m aecodec.train.phase --init models/aecodec-v1-6b90804fbd94.npz \\
        --data data/train --cache runs/pool22k --run-dir runs/phase --minutes 35 \\
        --model-id aecodec-v2 --out models

Each step takes random 1.1-s crops of the codec training pool, makes what the decoder would
see - the frozen model's output for the latent quantized (rounded) at a random step
(log-uniform over the model's range), plus, for 70 % of the crops, the DCT-coded residual
layer at a random scale (log-uniform 0.3..5) - and trains :class:`PhaseNet` to predict the
TRUE phase derivatives of the crop from it. Loss: ``sum w (1 - cos(pred - true)) / sum w``
for each derivative, ``w`` the smaller square-root magnitude of the two bins the derivative
joins (loud partials matter, silence does not), normalised per crop. The codec's encoder and
decoder are not touched, so files made with ``--init`` decode the same bits; the exported
model (``--model-id``) carries both and decodes with ``--decode-iters`` Griffin-Lim iterations.
Checkpoints to ``RUN/ckpt.pt`` every 200 steps; rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from aecodec.coding.residual import decode_dct, encode_dct
from aecodec.dsp.stft import LOG_EPS, stft
from aecodec.model.autoencoder import Autoencoder
from aecodec.model.phaseinit import PhaseNet, phase_derivatives
from aecodec.model.weights import (
    load_training_state,
    load_weights,
    save_training_state,
    save_weights,
)
from aecodec.train.codec import cosine_lr
from aecodec.train.dataset import build_cache, sample_crops

RESIDUAL_SHARE = 0.7
"""Share of crops that also get the DCT-coded residual layer (as encodes above 1.5 kbps do)."""
SCALE_RANGE = (0.3, 5.0)
"""Residual-layer quantizer scales sampled in training (log-uniform)."""


def decoded_logmag(model: Autoencoder, logmag: torch.Tensor, *, rng: np.random.Generator,
                   steps: tuple[float, float]) -> torch.Tensor:
    """What a decoder sees for ``logmag [B, bins, T]``: the model's output for its latent
    rounded at a random step, plus (for :data:`RESIDUAL_SHARE` of the items) the residual
    layer coded at a random scale. Returns ``[B, bins, T]`` float32 (no gradient)."""
    b = logmag.shape[0]
    step = torch.from_numpy(np.exp(rng.uniform(math.log(steps[0]), math.log(steps[1]), b))
                            ).float().view(b, 1, 1)
    with torch.inference_mode():
        z = model.encode(logmag)
        out = model.decode(torch.round(z / step) * step, step=step, frames=logmag.shape[-1])
    decoded = out.clone().numpy()
    target = logmag.numpy()
    for i in range(b):
        if rng.random() < RESIDUAL_SHARE:
            scale = float(np.exp(rng.uniform(*np.log(SCALE_RANGE))))
            decoded[i] += decode_dct(encode_dct(target[i] - decoded[i], scale=scale, level=1))
    return torch.from_numpy(decoded)


def angle_loss(vectors: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum w (1 - cos(angle(vectors) - target)) / sum w``; ``vectors [B, 2, bins, T]``."""
    a, b = vectors[:, 0], vectors[:, 1]
    cos = (a * torch.cos(target) + b * torch.sin(target)) / torch.sqrt(a * a + b * b + 1e-6)
    return (weight * (1 - cos)).sum() / weight.sum().clamp_min(1e-8)


def loss_terms(phase_net: PhaseNet, decoded: torch.Tensor, spec: torch.Tensor, *,
               n_fft: int, hop: int) -> dict[str, torch.Tensor]:
    """Losses for decoded ln-magnitudes ``[B, bins, T]`` against the true complex STFT."""
    dev_t, dev_f = phase_derivatives(spec, n_fft=n_fft, hop=hop)
    w = spec.abs().sqrt()
    w = w / (w.mean(dim=(1, 2), keepdim=True) + 1e-8)
    w_t = torch.zeros_like(w)
    w_t[..., 1:] = torch.minimum(w[..., 1:], w[..., :-1])
    w_f = torch.zeros_like(w)
    w_f[:, :-1] = torch.minimum(w[:, 1:], w[:, :-1])
    out = phase_net(decoded)
    t = angle_loss(out[:, 0:2], dev_t, w_t)
    f = angle_loss(out[:, 2:4], dev_f, w_f)
    return {"loss": t + f, "time": t, "freq": f}


def train(*, init: Path, data: list[Path], cache: Path, run: Path, minutes: float,
          out: Path | None, model_id: str, channels: int = 8, decode_iters: int = 2,
          batch: int = 8, frames: int = 96, lr: float = 2e-3, seed: int = 1,
          max_steps: int = 0, threads: int = 0, save_every: int = 200) -> Path:
    """Train (or resume) and return the exported weights (or the checkpoint if ``out`` is None)."""
    if threads:
        torch.set_num_threads(threads)
    base, base_meta = load_weights(init)
    cfg = replace(base.cfg, phase_channels=channels, decode_iters=decode_iters)
    model = Autoencoder(cfg)
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(not k.startswith("phase.") for k in missing):
        raise RuntimeError(f"{init}: weights do not fit the model ({missing}, {unexpected})")
    model.eval()
    assert model.phase is not None
    phase_net = model.phase
    phase_net.train()
    st = cfg.stft
    pool = build_cache(data, cache, rate=st.rate)
    print(f"training pool: {len(pool.names)} tracks, {pool.hours:.2f} h", file=sys.stderr)
    run.mkdir(parents=True, exist_ok=True)
    ckpt = run / "ckpt.pt"
    opt = torch.optim.AdamW(phase_net.parameters(), lr=lr, weight_decay=0.0)
    step, elapsed = 0, 0.0
    if ckpt.exists():
        saved = load_training_state(ckpt)
        phase_net.load_state_dict(saved["phase"])
        opt.load_state_dict(saved["opt"])
        step, elapsed = int(saved["step"]), float(saved["elapsed"])
        print(f"resumed {ckpt} at step {step} ({elapsed / 60:.1f} min)", file=sys.stderr)
    rng = np.random.default_rng([seed, step])
    steps = (0.08, 2.0)
    length = (frames - 1) * st.hop
    budget = minutes * 60
    t0 = time.time() - elapsed
    avg: dict[str, float] = {}

    def snapshot() -> dict[str, object]:
        return {"phase": phase_net.state_dict(), "opt": opt.state_dict(), "step": step,
                "elapsed": time.time() - t0, "config": cfg.to_dict()}

    while time.time() - t0 < budget and not 0 < max_steps <= step:
        frac = min(1.0, (time.time() - t0) / budget)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(lr, frac)
        audio = torch.from_numpy(sample_crops(pool, batch=batch, length=length, rng=rng))
        spec = stft(audio, n_fft=st.n_fft, hop=st.hop)
        decoded = decoded_logmag(model, torch.log(spec.abs() + LOG_EPS), rng=rng, steps=steps)
        terms = loss_terms(phase_net, decoded, spec, n_fft=st.n_fft, hop=st.hop)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(phase_net.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in terms.items():
            avg[k] = 0.98 * avg.get(k, float(v.detach())) + 0.02 * float(v.detach())
        if step % 10 == 0:
            print(f"\rstep {step} {(time.time() - t0) / 60:5.1f}/{minutes:.0f} min  " +
                  "  ".join(f"{k} {v:.4f}" for k, v in avg.items()), end="", file=sys.stderr)
        if step % save_every == 0:
            save_training_state(ckpt, snapshot())
    save_training_state(ckpt, snapshot())
    elapsed = time.time() - t0
    print(f"\ndone: {step} steps in {elapsed / 60:.1f} min", file=sys.stderr)
    if out is None:
        return ckpt
    info = {"phase_training": {"steps": step, "minutes": round(elapsed / 60, 1),
                               "init": f"{base_meta['model_id']}-{base_meta['sha256'][:12]}",
                               "batch": batch, "frames": frames, "lr": lr, "seed": seed,
                               "data": [str(d) for d in data], "hours": round(pool.hours, 2),
                               "threads": torch.get_num_threads(),
                               "final": {k: round(v, 4) for k, v in avg.items()}},
            "codec_training": base_meta.get("info", {})}
    path = save_weights(model, out, model_id=model_id, info=info)
    print(f"weights: {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="aecodec-train-phase", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init", type=Path, required=True, help="codec weights to build on")
    p.add_argument("--data", type=Path, nargs="+", default=[Path("data/train")])
    p.add_argument("--cache", type=Path, default=Path("runs/pool22k"))
    p.add_argument("--run-dir", type=Path, default=Path("runs/phase"))
    p.add_argument("--minutes", type=float, default=35.0)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: none)")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--model-id", default="aecodec-v2")
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--decode-iters", type=int, default=2,
                   help="Griffin-Lim iterations the exported model decodes with by default")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    train(init=a.init, data=a.data, cache=a.cache, run=a.run_dir, minutes=a.minutes,
          out=a.out, model_id=a.model_id, channels=a.channels, decode_iters=a.decode_iters,
          batch=a.batch, max_steps=a.steps, threads=a.threads)


if __name__ == "__main__":
    main()
