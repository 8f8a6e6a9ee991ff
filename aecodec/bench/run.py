"""``aecodec bench``: bitrate, quality and speed of aecodec beside reference codecs.

For every audio file and operating point: actual kbps (compressed bytes x 8 / duration, header
included), the quality measures of :mod:`aecodec.bench.metrics` on the decoded audio (aligned to
the source first), and encode/decode real-time factors (model load excluded, reported once).
Two-channel sources and decodes add the stereo measures of :mod:`aecodec.bench.stereo_metrics`.
Reference codecs (Opus, MP3, the hand-made DCT magnitude codec) run at settings chosen so their
ACTUAL bitrate matches. Failures become rows with the reason; the run goes on.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aecodec.bench.stereo_metrics import stereo_measures
from aecodec.dsp.audio import AUDIO_SUFFIXES, mixdown, read_audio
from aecodec.errors import AecError

METRICS = ("seed_rmse", "mr_rmse", "mel_l1", "lsd_db", "snr_db")
REFERENCES = ("opus", "mp3", "dct", "dct8")


@dataclass
class Row:
    """One file x codec x operating point."""

    file: str
    codec: str
    target_kbps: float
    setting: str = ""
    kbps: float = math.nan
    enc_x: float = math.nan
    dec_x: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""

    def flat(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("metrics"))
        return d


def find_audio(paths: Sequence[Path]) -> list[Path]:
    """Audio files among ``paths`` (folders searched recursively, sorted)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES
                            and f.is_file())
        elif p.exists():
            found.append(p)
        else:
            raise AecError(f"{p}: no such file or directory")
    if not found:
        raise AecError(f"no audio files found in {', '.join(str(p) for p in paths)}")
    return found


Take = tuple[Row, np.ndarray]
"""A row and its decoded mono audio ``[samples]``, aligned to the reference."""


def _with_visqol(row: Row, ref: np.ndarray, deg: np.ndarray, rate: int, on: bool) -> Take:
    if on:
        from aecodec.bench.metrics import visqol_moslqo
        row.metrics["visqol"] = visqol_moslqo(ref, deg, rate=rate)
    return row, deg


def _measured(ref: np.ndarray, deg: np.ndarray, rate: int) -> tuple[np.ndarray, dict[str, float]]:
    from aecodec.bench.fullband_metrics import wide_metrics
    from aecodec.bench.metrics import align, all_metrics
    deg = align(ref, deg, rate=rate)
    return deg, {**all_metrics(ref, deg, rate=rate, align_first=False),
                 **wide_metrics(ref, deg, rate=rate)}


def _aecodec_row(name: str, audio: Any, ref: np.ndarray, kbps: float, *, model: Any,
                 iters: int | None, visqol: bool = False) -> Take:
    from aecodec.codec.decode import decode_audio
    from aecodec.codec.encode import encode_audio
    from aecodec.model.registry import default_model

    model = model or default_model(kbps)
    t0 = time.perf_counter()
    data = encode_audio(audio, kbps=kbps, model=model).to_bytes()
    t1 = time.perf_counter()
    out, _, _ = decode_audio(data, name=name, iters=iters, model_path=Path(model[1]["path"]))
    t2 = time.perf_counter()
    deg, measures = _measured(ref, mixdown(out), audio.rate)
    row = Row(file=name, codec="aecodec", target_kbps=kbps, setting=f"-b {kbps:g}",
              kbps=len(data) * 8 / audio.duration / 1000, enc_x=audio.duration / (t1 - t0),
              dec_x=audio.duration / (t2 - t1), metrics=measures)
    row.metrics.update(stereo_measures(audio.samples, out, rate=audio.rate))
    return _with_visqol(row, ref, deg, audio.rate, visqol)


def _diagnostic_rows(name: str, audio: Any, ref: np.ndarray, kbps_list: Sequence[float], *,
                     model: Any) -> list[Row]:
    """Where the error comes from: aecodec's magnitudes with the TRUE phase (model + quantizer
    error alone) at each bitrate, and Griffin-Lim on the TRUE magnitudes (the phase floor)."""
    from aecodec.bench.metrics import all_metrics
    from aecodec.codec.decode import decode_logmag
    from aecodec.codec.encode import encode_audio
    from aecodec.dsp.np_griffinlim import griffin_lim
    from aecodec.dsp.np_spectral import istft, magnitude_from_log, stft
    from aecodec.dsp.resample import resample
    from aecodec.model.registry import default_model

    st = (model or default_model(kbps_list[0]))[0].cfg.stft
    x = resample(ref, orig_rate=audio.rate, new_rate=st.rate)
    spec = stft(np.ascontiguousarray(x, np.float32)[None], n_fft=st.n_fft, hop=st.hop)

    def back(y: np.ndarray) -> np.ndarray:
        return resample(y[0], orig_rate=st.rate, new_rate=audio.rate)[:len(ref)]

    rows = []
    floor = griffin_lim(np.abs(spec), n_fft=st.n_fft, hop=st.hop, length=len(x))
    rows.append(Row(file=name, codec="gl-floor (true mag)", target_kbps=0.0,
                    setting="FGLA 32", metrics=all_metrics(ref, back(floor), rate=audio.rate)))
    for kbps in kbps_list:
        m = model or default_model(kbps)
        enc = encode_audio(audio, kbps=kbps, model=m)
        logmag = decode_logmag(enc.to_bytes(), model_path=Path(m[1]["path"]))
        mag = magnitude_from_log(logmag)[..., :spec.shape[-1]]
        y = istft(mag * np.exp(1j * np.angle(spec)).astype(np.complex64), n_fft=st.n_fft,
                  hop=st.hop, length=len(x))
        rows.append(Row(file=name, codec="aecodec (true phase)", target_kbps=kbps,
                        setting=f"-b {kbps:g}", kbps=enc.nbytes * 8 / audio.duration / 1000,
                        metrics=all_metrics(ref, back(y), rate=audio.rate)))
    return rows


def _reference_row(name: str, codec: str, audio: Any, ref: np.ndarray, kbps: float,
                   visqol: bool = False) -> Take:
    from aecodec.bench.refcodecs import run_at_bitrate

    res = run_at_bitrate(codec, ref, rate=audio.rate, kbps=kbps)
    t0 = time.perf_counter()  # time the chosen setting once (the search ran it several times)
    if codec == "opus":
        from aecodec.bench.refcodecs import run_opus
        run_opus(ref, rate=audio.rate, kbps=float(res.setting.split()[-1]))
    elif codec == "mp3":
        from aecodec.bench.refcodecs import run_mp3
        run_mp3(ref, rate=audio.rate, kbps=int(res.setting.split()[-1]))
    else:
        from aecodec.bench.refcodecs import run_dct
        run_dct(ref, rate=audio.rate, quality=float(res.setting.split("=")[-1]))
    both = time.perf_counter() - t0
    deg, measures = _measured(ref, res.audio, audio.rate)
    row = Row(file=name, codec=codec, target_kbps=kbps, setting=res.setting,
              kbps=res.nbytes * 8 / audio.duration / 1000, enc_x=audio.duration / both,
              dec_x=math.nan, metrics=measures)
    return _with_visqol(row, ref, deg, audio.rate, visqol)


def run_bench(paths: Sequence[Path], *, bitrates: Sequence[float] = (3.0, 6.0, 12.0),
              against: Sequence[str] = (), iters: int | None = None, model_path: Path | None = None,
              diagnose: bool = False, visqol: bool = False, progress: bool = True,
              on_clip: Callable[[str, np.ndarray, int, list[tuple[Row, np.ndarray | None]]], None]
              | None = None) -> tuple[list[Row], dict[str, Any]]:
    """Benchmark every file; returns the rows and a run summary (model load, peak memory).

    ``on_clip(name, ref, rate, takes)``, when given, gets each readable file's mono reference
    and its codec rows with their decoded audio aligned to it (None for a failed row), then
    the audio is dropped (how ``--html`` builds its page without keeping every clip)."""
    from aecodec.bench.refcodecs import available
    from aecodec.model.registry import default_model, load_model

    files = find_audio(paths)
    if visqol:
        try:
            import visqol as _visqol  # noqa: F401
        except ImportError:
            raise AecError("--visqol needs the optional package: pip install visqol-python") from None
    t0 = time.perf_counter()
    model = load_model(path=model_path) if model_path else None
    used = [model] if model else [default_model(k) for k in bitrates]
    info: dict[str, Any] = {"model": ", ".join(dict.fromkeys(m[1]["model_id"] for m in used)),
                            "sha256": ", ".join(dict.fromkeys(m[1]["sha256"][:12] for m in used)),
                            "model_load_s": round(time.perf_counter() - t0, 3),
                            "files": len(files), "missing": []}
    have = available()
    refs = [c for c in against if c in REFERENCES]
    for c in against:
        if c not in REFERENCES:
            raise AecError(f"unknown reference codec {c!r} (choose from {', '.join(REFERENCES)})")
        if not have[c]:
            info["missing"].append(c)
            print(f"aecodec: note: {c} not found on PATH; skipping it", file=sys.stderr)
    refs = [c for c in refs if have[c]]
    rows: list[Row] = []
    for i, path in enumerate(files):
        if progress:
            print(f"\r[{i + 1}/{len(files)}] {path.name[:60]:60s}", end="", file=sys.stderr,
                  flush=True)
        try:
            audio = read_audio(path)
            ref = mixdown(audio.samples)
        except AecError as exc:
            rows.append(Row(file=str(path), codec="-", target_kbps=math.nan, error=str(exc)))
            continue
        takes: list[tuple[Row, np.ndarray | None]] = []
        for kbps in bitrates:
            for codec in ["aecodec", *refs]:
                try:
                    take: tuple[Row, np.ndarray | None] = (
                        _aecodec_row(str(path), audio, ref, kbps, model=model, iters=iters,
                                     visqol=visqol)
                        if codec == "aecodec" else
                        _reference_row(str(path), codec, audio, ref, kbps, visqol=visqol))
                except AecError as exc:
                    take = (Row(file=str(path), codec=codec, target_kbps=kbps, error=str(exc)),
                            None)
                rows.append(take[0])
                takes.append(take)
        if on_clip is not None:
            on_clip(str(path), ref, audio.rate, takes)
        del takes
        if diagnose:
            try:
                rows += _diagnostic_rows(str(path), audio, ref, bitrates, model=model)
            except AecError as exc:
                rows.append(Row(file=str(path), codec="diagnostics", target_kbps=0.0,
                                error=str(exc)))
    if progress:
        print(file=sys.stderr)
    info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return rows, info
