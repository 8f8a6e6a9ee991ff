"""The codec pipeline: audio -> latent symbols -> ``.aec`` bytes, and back.

Encode: mono mix-down -> resample to the model rate (22050 Hz) -> ln|STFT| (1024/256) ->
encoder -> uniform quantizer (step chosen per file by rate control) -> int8 symbols in chunks of
``CHUNK_FRAMES`` latent frames -> zstd -> container. Decode: the reverse, with the decoder net
predicting ln-magnitudes and Fast Griffin-Lim restoring phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import container
from .audio import MAX_CHANNELS, MAX_RATE, MIN_RATE, Audio, fit_length, mixdown, resample
from .checkpoint import DEFAULT_MODEL_ID, find_weights, load_weights
from .entropy import decode_symbols, encode_symbols
from .errors import AecError, FormatError, ModelError
from .model import Autoencoder
from .phase import DEFAULT_ITERS, DEFAULT_MOMENTUM, griffin_lim
from .quantize import dequantize, quantize
from .stft import log_magnitude, magnitude_from_log

CODEC_NAME = "aecodec"
CHUNK_FRAMES = 128
"""Latent frames per container chunk (128 x 4 x 256 / 22050 Hz = 5.94 s)."""
LADDER = (3.0, 6.0, 12.0)
"""Named operating points in kbps; any value in [MIN_KBPS, MAX_KBPS] is accepted."""
DEFAULT_KBPS = 6.0
MIN_KBPS, MAX_KBPS = 0.5, 64.0
STEP_MIN, STEP_MAX = 0.05, 16.0
"""Bounds of the quantizer step searched by rate control."""
MAX_SECONDS = 24 * 3600
"""Longest input accepted (metadata validation refuses forged lengths beyond it)."""


@dataclass(frozen=True)
class Encoded:
    """An encoded file: container metadata and chunk payloads."""

    meta: dict[str, Any]
    chunks: list[bytes]

    def to_bytes(self) -> bytes:
        return container.pack(self.meta, self.chunks)

    @property
    def nbytes(self) -> int:
        return len(self.to_bytes())


@lru_cache(maxsize=4)
def _load_cached(path: Path, mtime: float) -> tuple[Autoencoder, dict[str, Any]]:
    return load_weights(path)


def load_model(model_id: str = DEFAULT_MODEL_ID, sha_prefix: str = "", *,
               path: Path | None = None) -> tuple[Autoencoder, dict[str, Any]]:
    """The model for ``model_id`` (or the weights file ``path``), cached per file.

    With ``sha_prefix``, the weights' sha256 must start with it (a ``.aec`` file names the exact
    weights it was made with).
    """
    if path is None:
        path = find_weights(model_id, sha_prefix=sha_prefix[:12])
    path = Path(path).resolve()
    model, meta = _load_cached(path, path.stat().st_mtime if path.exists() else 0.0)
    if sha_prefix and not meta["sha256"].startswith(sha_prefix):
        raise ModelError(f"model {model_id}: weights sha256 {meta['sha256'][:12]} != {sha_prefix}")
    return model, meta


def _chunks(symbols: np.ndarray) -> list[bytes]:
    return [encode_symbols(np.ascontiguousarray(symbols[:, i:i + CHUNK_FRAMES]))
            for i in range(0, symbols.shape[1], CHUNK_FRAMES)]


def encode_audio(audio: Audio, *, kbps: float = DEFAULT_KBPS,
                 model: tuple[Autoencoder, dict[str, Any]] | None = None) -> Encoded:
    """Encode ``audio`` at a target ACTUAL bitrate ``kbps`` (file bytes x 8 / duration).

    Rate control bisects the quantizer step (log scale, ``STEP_MIN..STEP_MAX``) until the whole
    file, header included, is as close as possible to ``kbps``; never finer than needed.
    """
    if not MIN_KBPS <= kbps <= MAX_KBPS:
        raise AecError(f"bitrate {kbps} kbps is outside {MIN_KBPS}..{MAX_KBPS}")
    net, mmeta = model or load_model()
    st = net.cfg.stft
    x = resample(mixdown(audio.samples), orig_rate=audio.rate, new_rate=st.rate)
    with torch.inference_mode():
        logmag = log_magnitude(torch.from_numpy(x)[None], n_fft=st.n_fft, hop=st.hop)
        latent = net.encode(logmag)[0]
    meta = {
        "codec": CODEC_NAME,
        "model": {"id": mmeta["model_id"], "sha256": mmeta["sha256"][:16]},
        "rate": audio.rate, "channels": audio.channels, "length": audio.frames,
        "model_rate": st.rate, "n_fft": st.n_fft, "hop": st.hop,
        "frames": int(logmag.shape[-1]), "latent": list(latent.shape),
        "chunk_frames": CHUNK_FRAMES, "quant": {"step": 0.0, "dtype": "int8"}, "coder": "zstd",
    }
    target = kbps * 1000 / 8 * audio.duration

    def attempt(log_step: float) -> Encoded:
        step = float(f"{math.exp(log_step):.6g}")
        q = quantize(latent[None], step=step)[0].numpy()
        return Encoded(meta={**meta, "quant": {"step": step, "dtype": "int8"}}, chunks=_chunks(q))

    lo, hi = math.log(STEP_MIN), math.log(STEP_MAX)
    best = attempt(hi)
    if best.nbytes < target:  # even the coarsest step is under target: search finer steps
        for _ in range(14):
            mid = (lo + hi) / 2
            trial = attempt(mid)
            if trial.nbytes > target:
                lo = mid
            else:
                hi, best = mid, trial
    return best


def validate_meta(meta: dict[str, Any], *, name: str) -> None:
    """Refuse forged or foreign metadata before trusting any field of it."""
    def bad(what: str) -> FormatError:
        return FormatError(f"{name}: invalid metadata ({what})")

    if meta.get("codec") != CODEC_NAME:
        raise bad(f"codec {meta.get('codec')!r} is not {CODEC_NAME!r}")
    ints = {"rate": (MIN_RATE, MAX_RATE), "channels": (1, MAX_CHANNELS),
            "length": (1, MAX_RATE * MAX_SECONDS), "model_rate": (MIN_RATE, MAX_RATE),
            "n_fft": (16, 16384), "hop": (1, 8192), "frames": (1, 10**9),
            "chunk_frames": (1, 1 << 16)}
    for key, (lo, hi) in ints.items():
        v = meta.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise bad(f"{key}={v!r} not an integer in {lo}..{hi}")
    lat = meta.get("latent")
    if (not isinstance(lat, list) or len(lat) != 2
            or not all(isinstance(v, int) and 1 <= v <= 4096 for v in lat[:1])
            or not isinstance(lat[1], int) or not 1 <= lat[1] <= meta["frames"]):
        raise bad(f"latent shape {lat!r}")
    if meta["frames"] != model_rate_length(meta) // meta["hop"] + 1:
        raise bad(f"frames={meta['frames']} does not match length={meta['length']}")
    if meta["length"] / meta["rate"] > MAX_SECONDS:
        raise bad(f"duration {meta['length'] / meta['rate']:.0f} s exceeds {MAX_SECONDS} s")
    quant = meta.get("quant")
    step = quant.get("step") if isinstance(quant, dict) else None
    dtype = quant.get("dtype") if isinstance(quant, dict) else None
    if not isinstance(step, (int, float)) or not 0 < step < 1e6 or dtype != "int8":
        raise bad(f"quantizer {quant!r}")
    if meta.get("coder") != "zstd":
        raise bad(f"coder {meta.get('coder')!r}")
    mod = meta.get("model")
    if not isinstance(mod, dict) or not isinstance(mod.get("id"), str) or not isinstance(mod.get("sha256"), str):
        raise bad(f"model {mod!r}")


def model_rate_length(meta: dict[str, Any]) -> int:
    """Samples of the mono signal at the model rate (what ``resample_poly`` produced)."""
    return math.ceil(meta["length"] * meta["model_rate"] / meta["rate"])


def n_chunks(meta: dict[str, Any]) -> int:
    return -(-meta["latent"][1] // meta["chunk_frames"])


def decode_latent(aec: container.AecFile, *, name: str) -> tuple[np.ndarray, int]:
    """Symbols ``[C, Tl]`` int8 of the whole file (damaged chunks as zeros) and their count."""
    meta = aec.meta
    channels, frames = meta["latent"]
    expected = n_chunks(meta)
    if len(aec.chunks) != expected:
        raise FormatError(f"{name}: holds {len(aec.chunks)} chunks, metadata implies {expected}")
    parts, damaged = [], 0
    for i, payload in enumerate(aec.chunks):
        width = min(meta["chunk_frames"], frames - i * meta["chunk_frames"])
        if payload is None:
            damaged += 1
            parts.append(np.zeros((channels, width), dtype=np.int8))
        else:
            parts.append(decode_symbols(payload, channels=channels, frames=width,
                                        name=f"{name}: chunk {i + 1} of {expected}"))
    return np.concatenate(parts, axis=1), damaged


def decode_logmag(aec: container.AecFile, *, name: str = "<stream>",
                  model_path: Path | None = None) -> tuple[torch.Tensor, Autoencoder, int]:
    """Decoder net output: ln-magnitudes ``[1, bins, frames]``, the model, damaged chunks."""
    meta = aec.meta
    validate_meta(meta, name=name)
    net, _ = load_model(meta["model"]["id"], meta["model"]["sha256"], path=model_path)
    st = net.cfg.stft
    if (meta["model_rate"], meta["n_fft"], meta["hop"]) != (st.rate, st.n_fft, st.hop) or \
            meta["latent"] != [net.cfg.latent, -(-meta["frames"] // net.cfg.down)]:
        raise ModelError(f"{name}: STFT/latent settings do not match model {meta['model']['id']}")
    symbols, damaged = decode_latent(aec, name=name)
    with torch.inference_mode():
        step = meta["quant"]["step"]
        z = dequantize(torch.from_numpy(symbols.copy())[None], step=step)
        logmag = net.decode(z, step=step, frames=meta["frames"])
    return logmag, net, damaged


def decode_audio(aec: container.AecFile, *, name: str = "<stream>", rate: int | None = None,
                 iters: int = DEFAULT_ITERS, momentum: float = DEFAULT_MOMENTUM,
                 seed: int = 0, model_path: Path | None = None) -> tuple[np.ndarray, int, int]:
    """Decode a parsed container -> (audio ``[frames, channels]`` float32, rate, damaged chunks).

    The output has the original length (scaled to ``rate``) and channel count; v1 codes a mono
    mix-down, so every channel carries the same signal.
    """
    meta = aec.meta
    logmag, net, damaged = decode_logmag(aec, name=name, model_path=model_path)
    st = net.cfg.stft
    with torch.inference_mode():
        y = griffin_lim(magnitude_from_log(logmag), n_fft=st.n_fft, hop=st.hop,
                        length=model_rate_length(meta), iters=iters, momentum=momentum,
                        seed=seed)[0].numpy()
    out_rate = rate or meta["rate"]
    y = resample(y, orig_rate=st.rate, new_rate=out_rate)
    y = fit_length(y, round(meta["length"] * out_rate / meta["rate"]))
    return np.repeat(y[:, None], meta["channels"], axis=1), out_rate, damaged


def read_file(path: Path, *, ignore_errors: bool = False) -> container.AecFile:
    """Parse and validate a ``.aec`` file (one-line :class:`FormatError` on any problem)."""
    name = str(path)
    if not path.exists():
        raise FormatError(f"{name}: no such file")
    if path.is_dir():
        raise FormatError(f"{name}: is a directory, not an .aec file")
    with open(path, "rb") as f:
        aec = container.read_aec(f, name=name, ignore_errors=ignore_errors)
    validate_meta(aec.meta, name=name)
    return aec
