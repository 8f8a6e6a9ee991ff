"""File-level operations: one input file to one output file, atomically.

:func:`encode_file` and :func:`decode_file` are plain importable functions with no global state
(the model cache is per process), so an engine such as Dask or Ray can map them over a cluster;
:func:`run_many` maps them over local worker processes for ``aecodec encode -j N``, and
:func:`aecodec.files.cluster.dask_map` over a Dask cluster for ``--scheduler ADDRESS``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aecodec.errors import AecError, OutputError
from aecodec.files import startup
from aecodec.files.malloc import retain_freed_memory

Progress = Callable[[float, float], None]
"""``progress(done, total)``: seconds of audio read (encode) or written (decode) so far."""


def encode_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, kbps: float = 6.0,
                mono: bool = False, model_path: Path | None = None, force: bool = False,
                tags: dict[str, str] | None = None, threads: int | None = None,
                progress: Progress | None = None) -> dict[str, Any]:
    """Encode ``src`` audio to ``dst`` (.aec) chunk by chunk; returns sizes and timings.

    ``src``/``dst`` may be ``-`` (stdin / stdout) or a FIFO / device (a non-seekable input is
    spooled to a temp file: :mod:`aecodec.files.stdio`). ``tags`` override the input's own
    (``{"title": ...}``, keys :data:`aecodec.files.formats.TAG_KEYS`; ``""`` drops one).
    """
    src, dst = Path(src), Path(dst)
    retain_freed_memory()
    from aecodec.dsp.audio import iter_blocks, open_audio
    from aecodec.files.atomic import atomic_output, check_output
    from aecodec.files.formats import read_tags
    from aecodec.files.stdio import is_stream_path, label, seekable_input, stream_output
    to_stream = is_stream_path(dst)
    if not to_stream:
        check_output(dst, force=force, inputs=(src,))
    name = label(src)
    with seekable_input(src, suffix=src.suffix) as path, open_audio(path, name=name) as f:
        set_threads(threads)
        from aecodec.codec.encode import encode_blocks
        from aecodec.model.registry import default_model, load_model
        startup.resume()
        model = load_model(path=model_path) if model_path else default_model(kbps)
        t0 = time.perf_counter()
        rate, frames = int(f.samplerate), int(f.frames)
        kept = {**read_tags(f), **(tags or {})}
        kept = {k: v for k, v in kept.items() if v}
        blocks = _counted(iter_blocks(f, name=name), frames, rate, progress)
        out_cm = stream_output(dst) if to_stream else atomic_output(dst, force=force,
                                                                    inputs=(src,))
        with out_cm as out:
            size = encode_blocks(blocks, out, rate=rate, channels=f.channels, length=frames,
                                 kbps=kbps, model=model, mono=mono, tags=kept or None)
    seconds = frames / rate
    return {"input": name, "output": label(dst, output=True), "bytes": size,
            "seconds": seconds, "kbps": size * 8 / seconds / 1000,
            "wall_s": time.perf_counter() - t0, "tags": kept}


def _counted(blocks: Iterator[np.ndarray], total: int, rate: int,
             progress: Progress | None) -> Iterator[np.ndarray]:
    done = 0
    for block in blocks:
        done += len(block)
        if progress:
            progress(min(done, total) / rate, total / rate)
        yield block


def decode_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                rate: int | None = None, subtype: str | None = None,
                start: float = 0.0, duration: float | None = None, iters: int | None = None,
                ignore_errors: bool = False, model_path: Path | None = None,
                force: bool = False, gain: float = 0.0, threads: int | None = None,
                progress: Progress | None = None) -> dict[str, Any]:
    """Decode ``src`` (.aec) to ``dst`` chunk by chunk; returns what was written.

    The format follows ``dst``'s suffix (:func:`aecodec.files.formats.output_format`; WAV for
    ``-`` / a pipe); ``subtype`` None: the format's default (PCM_16 where it has one).
    ``gain`` (dB) scales the output first; integer subtypes clip to [-1, 1] and the count of
    clipped samples is returned as ``"clipped"``. ``ignore_errors``: damaged chunks decode as
    silence and a truncated file decodes up to its last whole chunk.
    """
    src, dst = Path(src), Path(dst)
    retain_freed_memory()
    import soundfile as sf

    from aecodec.files.atomic import atomic_output, check_output
    from aecodec.files.formats import is_float, output_format, write_tags
    from aecodec.files.stdio import WavStream, is_stream_path, label, seekable_input, stream_output
    from aecodec.format.meta import read_meta
    to_stream = is_stream_path(dst)
    fmt, subtype = output_format(dst, subtype, stream=to_stream)
    if not to_stream:
        check_output(dst, force=force, inputs=(src,))
    name = label(src)
    scale = float(10 ** (gain / 20))
    clipped = [0]
    with seekable_input(src, suffix=".aec") as path:
        meta, _ = read_meta(path, name=name, partial=ignore_errors)  # refused before the model loads
        set_threads(threads)
        from aecodec.codec.decode import decode_to, output_span
        from aecodec.files.wavout import GuardedFile, wav_container
        startup.resume()
        out_rate = rate or meta["rate"]
        channels = 2 if meta.get("stereo") in ("ild", "image") else meta["channels"]
        first, last = output_span(meta, rate=out_rate, start=start, duration=duration,
                                  name=name)
        if start * meta["rate"] >= meta["length"]:
            raise AecError(f"{name}: --start {start:g} s is past the end "
                           f"({meta['length'] / meta['rate']:.2f} s)")
        t0 = time.perf_counter()
        done, total = [0], [0]
        with contextlib.ExitStack() as stack:
            f = stack.enter_context(open(path, "rb"))
            writer: Any = None
            guard: Any = None
            if not to_stream:
                out = stack.enter_context(atomic_output(dst, force=force, inputs=(src,)))
                guard = GuardedFile(out)  # a full disk: one OutputError, no cffi tracebacks
                stack.callback(guard.check, dst)  # after the header is written, before rename
                writer = stack.enter_context(sf.SoundFile(
                    guard, mode="w", samplerate=out_rate, channels=channels, subtype=subtype,
                    format=wav_container(last - first, channels, subtype, fmt=fmt)))
                write_tags(writer, meta.get("tags") or {})

            def plan(frames: int) -> None:
                nonlocal writer
                total[0] = frames
                if to_stream:  # the WAV header holds the length: written once it is known
                    writer = WavStream(stack.enter_context(stream_output(dst)), rate=out_rate,
                                       channels=channels, frames=frames, subtype=subtype)

            def sink(block: np.ndarray) -> None:
                if scale != 1.0:
                    block = block * scale
                if not is_float(subtype):
                    over = np.abs(block) > 1.0
                    if over.any():
                        clipped[0] += int(over.sum())
                        block = block.clip(-1.0, 1.0)
                try:
                    writer.write(block)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    if guard is not None:
                        guard.check(dst)
                    raise OutputError(f"{dst}: cannot write output ({exc})") from None
                if guard is not None:
                    guard.check(dst)
                done[0] += len(block)
                if progress:
                    progress(min(done[0], total[0]) / out_rate, total[0] / out_rate)
            info = decode_to(f, sink, name=name, rate=out_rate, start=start,
                             duration=duration, iters=iters, ignore_errors=ignore_errors,
                             model_path=model_path, on_plan=plan)
    return {"input": name, "output": label(dst, output=True), **info, "format": fmt,
            "subtype": subtype, "clipped": clipped[0], "tags": meta.get("tags") or {},
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


def check_collisions(jobs: Sequence[tuple[Path, Path]]) -> None:
    """:class:`OutputError` (exit 5) if two inputs of a batch map to one output (``x.wav`` and
    ``x.flac`` -> ``x.aec``; ``d1/a.wav`` and ``d2/a.wav`` given as files), before any work."""
    from aecodec.errors import OutputError
    seen: dict[str, Path] = {}
    for src, dst in jobs:
        key = os.path.normcase(os.path.abspath(dst))
        if key in seen:
            raise OutputError(f"{dst}: would be written from both {seen[key]} and {src} "
                              "(rename one, or code them in separate runs)")
        seen[key] = src


class Outcome(NamedTuple):
    src: Path
    result: dict[str, Any] | None
    error: str = ""
    code: int = 0


def run_one(fn: Callable[..., dict[str, Any]], src: Path, dst: Path,
            kwargs: dict[str, Any]) -> Outcome:
    """``fn(src, dst, **kwargs)`` as an :class:`Outcome`: an :class:`AecError` is kept as its
    one-line message and exit code, never raised (the job of one file in a batch)."""
    try:
        return Outcome(src, fn(src, dst, **kwargs))
    except AecError as exc:
        return Outcome(src, None, str(exc), exc.exit_code)


def set_threads(threads: int | None) -> None:
    """Compute threads of this process (None: the libraries' default, one per core).

    Sets the threads of the decoder's split work (:func:`aecodec.dsp.workers.set_count`: its
    output does not depend on them) and ``OMP/OPENBLAS/MKL_NUM_THREADS``, which numpy's BLAS
    reads when it loads, only while numpy is not loaded yet (the CLI parses its options
    first): a loaded library, or torch's thread count, is never changed behind a caller's
    back."""
    from aecodec.dsp import workers
    workers.set_count(threads)
    if threads is None or "numpy" in sys.modules:
        return
    for key in _ONE_THREAD:
        os.environ[key] = str(threads)


_ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
"""Environment of a worker process: one BLAS thread each (``workers`` processes share the
cores). Workers are spawned, not forked, so numpy reads it when it loads there."""


def _call_in_worker(fn: Callable[..., dict[str, Any]], src: Path, dst: Path,
                    kwargs: dict[str, Any]) -> Outcome:
    from aecodec.files.signals import job
    with job():  # a SIGTERM removes this job's temp file, then ends the worker
        return run_one(fn, src, dst, kwargs)


def _init_worker() -> None:
    from aecodec.files.signals import init_worker
    init_worker()


def _stop(pool: Any, futures: list[Any]) -> None:
    """Cancel what has not started and stop the workers (SIGTERM: each removes its temp
    file), waiting until they are gone, so nothing is written after the command ends."""
    for fut in futures:
        fut.cancel()
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        with contextlib.suppress(OSError, AttributeError):
            p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join(5)
    pool.shutdown(wait=True, cancel_futures=True)


def _written(futures: list[Any]) -> int:
    done = 0
    for fut in futures:
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            done += not fut.result().error
    return done


def run_many(fn: Callable[..., dict[str, Any]], jobs: Sequence[tuple[Path, Path]], *,
             workers: int = 1, on_done: Callable[[Outcome, int], None] | None = None,
             **kwargs: Any) -> list[Outcome]:
    """Apply ``fn(src, dst, **kwargs)`` to every job, in ``workers`` processes; failures are
    collected, never raised, so the other files still finish. ``on_done(outcome, n_done)``
    is called as each job ends."""
    outcomes: list[Outcome] = []

    def report(o: Outcome) -> None:
        outcomes.append(o)
        if on_done:
            on_done(o, len(outcomes))

    from aecodec.files.signals import Interrupted
    if workers <= 1:
        try:
            for src, dst in jobs:
                report(run_one(fn, src, dst, kwargs))
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: the finished ones stay
            raise Interrupted(getattr(exc, "signum", signal.SIGINT),
                              done=sum(not o.error for o in outcomes), total=len(jobs)) from None
        return outcomes
    import multiprocessing  # here, not at the top: a single-file command never needs them
    from concurrent.futures import ProcessPoolExecutor, as_completed

    saved = {k: os.environ.get(k) for k in _ONE_THREAD}
    os.environ.update(_ONE_THREAD)
    futures: list[Any] = []
    try:
        pool = ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1, len(jobs)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker)
        try:
            futures = [pool.submit(_call_in_worker, fn, src, dst, kwargs) for src, dst in jobs]
            for fut in as_completed(futures):
                report(fut.result())
        except KeyboardInterrupt as exc:
            _stop(pool, futures)
            raise Interrupted(getattr(exc, "signum", signal.SIGINT), done=_written(futures),
                              total=len(jobs)) from None
        pool.shutdown()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return outcomes
