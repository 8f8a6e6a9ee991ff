"""Fit the entropy tables of :mod:`aecodec.coding.ans` on symbols of the training pool.

``python -m aecodec.train.entropy --cache CACHE --out models/`` encodes ``--crops`` 10-s crops
of the training-pool cache (:mod:`aecodec.train.dataset`; never the classification sources) with the
zstd coder at every rate of ``--kbps``, reads the integers back from the files, fits the
continuous form of the context model by maximum likelihood (Adam, full batch) and rounds it to
the integer tables the coder uses. Prints the code length of the fitted tables against the zstd
streams of the same chunks. Each fitting step's bits per symbol go to ``RUN/log.csv`` (``--run-dir``,
:mod:`aecodec.train.log`) with ``RUN/loss.png``; with ``--val-data`` the log also gets the
fitted tables' and zstd's bytes on that held-out audio (every file, first 10 s, each rate).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aecodec.codec.chunks import layout_of
from aecodec.codec.encode import encode_audio
from aecodec.coding import ans
from aecodec.coding.residual import HEADER as DCT_HEADER
from aecodec.coding.residual import decode_coefficients
from aecodec.dsp.audio import Audio
from aecodec.format import container
from aecodec.format.payload import LATENT, RESIDUAL, encode_stream, unpack_payload
from aecodec.model.registry import Model, load_model
from aecodec.train.log import LOG_NAME, TrainLog, finish

TABLES = 48
"""Number of probability tables ``K``."""
B0 = 0.02
"""Laplace scale of table 0; table ``k`` has ``B0 * 2 ** (k / TABLE_OCTAVE)``."""


def table_pmf(*, tables: int = TABLES) -> np.ndarray:
    """``[K, 2 * SPAN + 1]`` discrete Laplace probabilities (tails folded into the ends)."""
    v = np.arange(-ans.SPAN, ans.SPAN + 1, dtype=np.float64)
    b = B0 * 2.0 ** (np.arange(tables) / ans.TABLE_OCTAVE)

    def cdf(x: np.ndarray) -> np.ndarray:
        z = x[None, :] / b[:, None]
        return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))

    upper = cdf(v + 0.5)
    lower = cdf(v - 0.5)
    upper[:, -1], lower[:, 0] = 1.0, 0.0
    return np.maximum(upper - lower, 1e-12)


def collect(clips: list[Audio], model: Model, *, kbps: list[float]) -> list[dict[str, Any]]:
    """Encode every clip at every rate with the zstd coder; return each chunk's integers:
    ``{"latent": int8 [C, T], "step": float, "residual": int [16, 16, R, C] | None,
    "scale": float, "zbytes": (latent bytes, residual bytes)}``."""
    out: list[dict[str, Any]] = []
    net = model[0]
    for clip in clips:
        for rate in kbps:
            enc = encode_audio(clip, kbps=rate, model=model, coder="zstd")
            aec = container.unpack(enc.to_bytes())
            lay = layout_of(aec.meta, down=net.cfg.down)
            for k, payload in enumerate(aec.chunks):
                assert payload is not None
                f0, f1 = lay.core(k)
                width = -(-(f1 - f0) // lay.down)
                streams = unpack_payload(payload, shapes={LATENT: (net.cfg.latent, width)},
                                         name="collect")
                step, sym = streams[LATENT]
                assert isinstance(sym, np.ndarray)
                rec: dict[str, Any] = {"latent": sym, "step": step, "residual": None,
                                       "scale": 1.0, "zbytes": (len(encode_stream(sym)), 0)}
                if RESIDUAL in streams:
                    scale, raw = streams[RESIDUAL]
                    assert isinstance(raw, bytes)
                    rec["residual"] = decode_coefficients(raw)
                    rec["scale"] = scale
                    rec["zbytes"] = (rec["zbytes"][0], len(raw) - DCT_HEADER.size)
                out.append(rec)
    return out


def _lap_bits(v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    def cdf(x: torch.Tensor) -> torch.Tensor:
        z = x / b
        return torch.where(z < 0, 0.5 * torch.exp(z.clamp(max=0)), 1 - 0.5 * torch.exp(-z.clamp(min=0)))

    return -torch.log2((cdf(v + 0.5) - cdf(v - 0.5)).clamp(min=2.0 ** -24))


def _ctx_l(m: torch.Tensor) -> torch.Tensor:
    return torch.log1p(m.clamp(max=ans.CTX_CLIP))


def fit_tables(data: list[dict[str, Any]], *, model_sha: str, channels: int, steps: int = 200,
               keep: float = 0.1, seed: int = 0,
               tlog: TrainLog | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Fit the context model on ``collect()`` output; returns (tables arrays, fit report).
    ``tlog`` gets each step's ``latent_bits`` / ``residual_bits`` (per symbol)."""
    rng = np.random.default_rng(seed)
    # latent: [C, T] per chunk -> value/prev pairs with step index
    lx, lp, lj = [], [], []
    for d in data:
        x = d["latent"].astype(np.int64)
        prev = np.zeros_like(x)
        prev[:, 1:] = x[:, :-1]
        lx.append(x)
        lp.append(prev)
        lj.append(np.full(x.shape, ans.grid_index(ans.snap_up(d["step"]))))
    cat = {k: torch.from_numpy(np.concatenate([a.T for a in v]).T.astype(np.float32))
           for k, v in (("x", lx), ("p", lp), ("j", lj))}
    # residual: per symbol (value, |prev|, |nb|, plane, row fraction, j), subsampled
    rv, rp, rn, rplane, rrow, rj = [], [], [], [], [], []
    for d in data:
        q = d["residual"]
        if q is None:
            continue
        q = q.astype(np.int64)
        a = np.zeros_like(q)
        a[..., 1:] = np.abs(q[..., :-1])
        a = np.minimum(a, ans.CTX_CLIP)
        nb = a.copy()
        nb[:, :, 1:] += a[:, :, :-1]
        nb[:, :, :-1] += a[:, :, 1:]
        rows = q.shape[2]
        sel = rng.random(q.shape) < keep
        rv.append(q[sel])
        rp.append(a[sel])
        rn.append(nb[sel])
        rplane.append(np.broadcast_to(np.arange(256).reshape(16, 16, 1, 1), q.shape)[sel])
        rrow.append(np.broadcast_to(np.arange(rows).reshape(1, 1, rows, 1), q.shape)[sel])
        rj.append(np.full(int(sel.sum()), ans.grid_index(ans.snap_up(d["scale"]))))
    rows = max(d["residual"].shape[2] for d in data if d["residual"] is not None)
    r = {k: torch.from_numpy(np.concatenate(v).astype(np.int64))
         for k, v in (("v", rv), ("p", rp), ("n", rn), ("plane", rplane), ("row", rrow), ("j", rj))}
    lb0 = math.log2(B0)
    octave = ans.TABLE_OCTAVE

    # continuous parameters in table-index units
    la = torch.full((channels, 1), 16.0, requires_grad=True)
    ls = torch.zeros(1, requires_grad=True)
    pm = torch.zeros((channels, 1), requires_grad=True)
    pb = torch.zeros((channels, 1), requires_grad=True)
    ra = torch.full((256,), 16.0, requires_grad=True)
    rs = torch.zeros(1, requires_grad=True)
    row = torch.zeros(rows, requires_grad=True)
    rp_ = torch.zeros(256, requires_grad=True)
    rn_ = torch.zeros(1, requires_grad=True)

    def lat_loss() -> torch.Tensor:
        s = la + ls * cat["j"] + pb * _ctx_l(cat["p"].abs())
        b = 2.0 ** (lb0 + s / octave)
        return _lap_bits(cat["x"] - pm * cat["p"], b).mean()

    def res_loss() -> torch.Tensor:
        s = (ra[r["plane"]] + rs * r["j"] + row[r["row"]] + rp_[r["plane"]] * _ctx_l(r["p"].float())
             + rn_ * _ctx_l(r["n"].float()))
        b = 2.0 ** (lb0 + s / octave)
        return _lap_bits(r["v"].float(), b).mean()

    report: dict[str, float] = {}
    for name, params, loss_fn in (("latent", [la, ls, pm, pb], lat_loss),
                                  ("residual", [ra, rs, row, rp_, rn_], res_loss)):
        opt = torch.optim.Adam(params, lr=0.2)
        for i in range(steps):
            if i == steps // 2:
                for g in opt.param_groups:
                    g["lr"] = 0.05
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
            if tlog is not None:
                tlog.write(i + 1, {f"{name}_bits": loss.item()})
        report[f"{name}_bits_per_symbol"] = float(loss.detach())

    def fixed(x: torch.Tensor) -> np.ndarray:
        return np.rint(x.detach().numpy().astype(np.float64) * 256).astype(np.int64).reshape(-1)

    arrays = {
        "pmf": table_pmf(),
        "L": np.rint(np.log1p(np.arange(ans.CTX_CLIP + 1)) * 256).astype(np.int64),
        "LA": fixed(la), "LS": fixed(ls)[0], "PM": np.clip(fixed(pm), -256, 256), "PB": fixed(pb),
        "RA": fixed(ra), "RS": fixed(rs)[0], "ROW": fixed(row), "RP": fixed(rp_),
        "RN": fixed(rn_)[0],
        "model_sha": np.frombuffer(model_sha.encode("ascii"), dtype=np.uint8),
    }
    return arrays, report


def _crops(cache_dir: Path, *, count: int, seconds: float, seed: int) -> list[Audio]:
    from aecodec.train.dataset import open_cache

    cache = open_cache(cache_dir)
    rng = np.random.default_rng(seed)
    n = int(seconds * cache.rate)
    lengths = np.diff(cache.starts)
    ok = np.flatnonzero(lengths > n + 30 * cache.rate)
    out = []
    for t in rng.choice(ok, size=min(count, len(ok)), replace=False):
        off = int(cache.starts[t]) + 30 * cache.rate
        x = cache.samples[off:off + n].astype(np.float32) / 32768
        out.append(Audio(samples=x[:, None], rate=cache.rate))
    return out


def measure(data: list[dict[str, Any]], tables: ans.Tables) -> dict[str, int]:
    """Bytes of the chunks' streams: zstd (from the files) vs the tables (real ANS coding)."""
    z_lat = z_res = a_lat = a_res = 0
    for d in data:
        j = ans.grid_index(ans.snap_up(d["step"]))
        a_lat += len(ans.encode_latent(d["latent"], tables, j))
        z_lat += d["zbytes"][0]
        if d["residual"] is not None and np.abs(d["residual"]).max() <= ans.SPAN:
            a_res += len(ans.encode_residual(d["residual"], tables,
                                             ans.grid_index(ans.snap_up(d["scale"]))))
            z_res += d["zbytes"][1]
    return {"zstd_latent_bytes": z_lat, "ans_latent_bytes": a_lat, "zstd_residual_bytes": z_res,
            "ans_residual_bytes": a_res}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, required=True, help="training-pool cache folder")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--crops", type=int, default=24)
    p.add_argument("--kbps", default="1.5,3,6,12,24")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--run-dir", type=Path, default=Path("runs/entropy"),
                   help="folder for log.csv and loss.png")
    p.add_argument("--val-data", type=Path, nargs="+", default=None,
                   help="held-out audio (files or folders) measured with the fitted tables")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    t0 = time.time()
    model = load_model()
    clips = _crops(args.cache, count=args.crops, seconds=10.0, seed=args.seed)
    data = collect(clips, model, kbps=[float(k) for k in args.kbps.split(",")])
    print(f"collected {len(data)} chunks in {time.time() - t0:.0f} s", flush=True)
    tlog = TrainLog(args.run_dir / LOG_NAME)
    arrays, report = fit_tables(data, model_sha=model[1]["sha256"], channels=model[0].cfg.latent,
                                steps=args.steps, seed=args.seed, tlog=tlog)
    path = ans.save_tables(arrays, args.out)
    print(f"fitted in {time.time() - t0:.0f} s: {report} -> {path}", flush=True)
    tables = ans.load_tables(path.resolve())
    print(measure(data, tables))
    if args.val_data:
        from aecodec.dsp.audio import AUDIO_SUFFIXES, read_audio
        files = sorted(f for v in args.val_data for f in ([v] if v.is_file() else v.rglob("*"))
                       if f.suffix.lower() in AUDIO_SUFFIXES)
        clips = [Audio(a.samples[:10 * a.rate], a.rate) for a in map(read_audio, files)]
        held = measure(collect(clips, model, kbps=[float(k) for k in args.kbps.split(",")]),
                       tables)
        tlog.write(args.steps, {k: float(v) for k, v in held.items()}, split="heldout")
        print(f"held-out ({len(clips)} files): {held}")
    finish(tlog, title=f"entropy tables: {args.steps} steps per part")


if __name__ == "__main__":
    main()
