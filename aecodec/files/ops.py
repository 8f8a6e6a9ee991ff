"""File-level operations: one input file to one output file, atomically.

:func:`encode_file` and :func:`decode_file` are plain importable functions with no global state
(the model cache is per process), so an engine such as Dask or Ray can map them over a cluster;
:func:`run_many` maps them over local worker processes for ``aecodec encode -j N``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aecodec.errors import AecError


def encode_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, kbps: float = 6.0,
                mono: bool = False, model_path: Path | None = None,
                force: bool = False) -> dict[str, Any]:
    """Encode ``src`` audio to ``dst`` (.aec) chunk by chunk; returns sizes and timings."""
    src, dst = Path(src), Path(dst)
    from aecodec.dsp.audio import iter_blocks, open_audio
    from aecodec.files.atomic import atomic_output, check_output
    check_output(dst, force=force, inputs=(src,))
    with open_audio(src) as f:  # bad input is refused before the model is even loaded
        from aecodec.codec.encode import encode_blocks
        from aecodec.model.registry import default_model, load_model
        model = load_model(path=model_path) if model_path else default_model(kbps)
        t0 = time.perf_counter()
        rate, frames = int(f.samplerate), int(f.frames)
        with atomic_output(dst, force=force, inputs=(src,)) as out:
            size = encode_blocks(iter_blocks(f, name=str(src)), out, rate=rate,
                                 channels=f.channels, length=frames, kbps=kbps, model=model,
                                 mono=mono)
    seconds = frames / rate
    return {"input": str(src), "output": str(dst), "bytes": size, "seconds": seconds,
            "kbps": size * 8 / seconds / 1000, "wall_s": time.perf_counter() - t0}


def decode_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                rate: int | None = None, subtype: str = "PCM_16",
                start: float = 0.0, duration: float | None = None, iters: int | None = None,
                ignore_errors: bool = False, model_path: Path | None = None,
                force: bool = False) -> dict[str, Any]:
    """Decode ``src`` (.aec) to a WAV ``dst`` chunk by chunk; returns what was written."""
    src, dst = Path(src), Path(dst)
    import soundfile as sf

    from aecodec.files.atomic import atomic_output, check_output
    from aecodec.format.meta import read_meta
    check_output(dst, force=force, inputs=(src,))
    meta, _ = read_meta(src)  # a foreign or damaged file is refused before the model loads
    from aecodec.codec.decode import decode_to
    out_rate = rate or meta["rate"]
    channels = 2 if meta.get("stereo") in ("ild", "image") else meta["channels"]
    if start * meta["rate"] >= meta["length"]:
        raise AecError(f"{src}: --start {start:g} s is past the end "
                       f"({meta['length'] / meta['rate']:.2f} s)")
    t0 = time.perf_counter()
    with open(src, "rb") as f, atomic_output(dst, force=force, inputs=(src,)) as out, \
            sf.SoundFile(out, mode="w", samplerate=out_rate, channels=channels, subtype=subtype,
                         format="WAV") as wav:
        def sink(block: Any) -> None:
            wav.write(block if subtype == "FLOAT" else block.clip(-1.0, 1.0))
        info = decode_to(f, sink, name=str(src), rate=out_rate, start=start, duration=duration,
                         iters=iters, ignore_errors=ignore_errors, model_path=model_path)
    return {"input": str(src), "output": str(dst), **info,
            "seconds": info["frames"] / out_rate, "wall_s": time.perf_counter() - t0}


def expand_inputs(paths: Sequence[Path], *, suffixes: Sequence[str]) -> list[tuple[Path, Path]]:
    """``(file, path relative to its root)`` for files and folders (searched recursively)."""
    found: list[tuple[Path, Path]] = []
    for p in paths:
        if p.is_dir():
            found += [(f, f.relative_to(p)) for f in sorted(p.rglob("*"))
                      if f.is_file() and f.suffix.lower() in suffixes]
        else:
            found.append((p, Path(p.name)))
    return found


@dataclass(frozen=True)
class Outcome:
    src: Path
    result: dict[str, Any] | None
    error: str = ""
    code: int = 0


def _call(fn: Callable[..., dict[str, Any]], src: Path, dst: Path,
          kwargs: dict[str, Any]) -> Outcome:
    try:
        return Outcome(src, fn(src, dst, **kwargs))
    except AecError as exc:
        return Outcome(src, None, str(exc), exc.exit_code)


_ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
"""Environment of a worker process: one BLAS thread each (``workers`` processes share the
cores). Workers are spawned, not forked, so numpy reads it when it loads there."""


def run_many(fn: Callable[..., dict[str, Any]], jobs: Sequence[tuple[Path, Path]], *,
             workers: int = 1, progress: bool = True, **kwargs: Any) -> list[Outcome]:
    """Apply ``fn(src, dst, **kwargs)`` to every job, in ``workers`` processes; failures are
    collected, never raised, so the other files still finish."""
    outcomes: list[Outcome] = []

    def report(o: Outcome) -> None:
        outcomes.append(o)
        if progress:
            status = "ok" if not o.error else "FAILED"
            print(f"[{len(outcomes)}/{len(jobs)}] {status} {o.src}", file=sys.stderr)

    if workers <= 1:
        for src, dst in jobs:
            report(_call(fn, src, dst, kwargs))
    else:
        import multiprocessing

        saved = {k: os.environ.get(k) for k in _ONE_THREAD}
        os.environ.update(_ONE_THREAD)
        try:
            with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1, len(jobs)),
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(_call, fn, src, dst, kwargs) for src, dst in jobs]
                for fut in as_completed(futures):
                    report(fut.result())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return outcomes
