"""``aecodec encode`` and ``aecodec decode``: one file, a pipe (``-``) or a batch of files.

Messages go to stderr only, so ``-`` as the output keeps stdout clean. ``register(main)`` adds
both commands to the group.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from aecodec.cli.options import TIME, parse_kbps
from aecodec.cli.progress import ProgressLine, enabled, speed
from aecodec.errors import AecError

TAG_OPTIONS = ("title", "artist", "album", "date", "genre", "comment")


def kbps_option(value: str) -> float:
    """``-b``: kbps as ``6``, ``6k``, ``6kbps`` or ``6000`` (bits/s), checked against the range."""
    from aecodec.format.meta import MAX_KBPS, MIN_KBPS
    try:
        v = parse_kbps(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'-b' / '--bitrate'") from None
    if not MIN_KBPS <= v <= MAX_KBPS:
        raise click.BadParameter(f"{v:g} kbps is outside {MIN_KBPS:g}..{MAX_KBPS:g}",
                                 param_hint="'-b' / '--bitrate'")
    return v


def thread_env(threads: int, *, jobs: int, scheduler: str | None = None) -> int | None:
    """``--threads``: 0 (auto) is one thread per process with ``-j`` > 1 or per ``--scheduler``
    task (a Dask worker process a core), and the library default otherwise (the decoder's
    split work on up to 2 cores); returns the count to pass on (None: auto). Sets the BLAS
    thread count numpy reads when it loads (the CLI loads it only after parsing; where numpy
    is already loaded, e.g. under CliRunner, nothing changes)."""
    if threads == 0:
        if jobs <= 1 and scheduler is None:
            return None
        threads = 1
    if "numpy" not in sys.modules:
        for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[key] = str(threads)
    return threads


def _single(paths: tuple[Path, ...], out_suffixes: tuple[str, ...]) -> bool:
    from aecodec.files.stdio import is_stream_path
    src, dst = paths
    if dst.is_dir():
        return False
    same = src.exists() and dst.exists() and src.resolve() == dst.resolve()
    if is_stream_path(dst) or dst.suffix.lower() in out_suffixes or same:
        return True
    return not src.is_dir() and not dst.exists()


def plan(paths: tuple[Path, ...], output_dir: Path | None, *, out_suffix: str,
         in_suffixes: tuple[str, ...],
         out_suffixes: tuple[str, ...] = ()) -> tuple[list[tuple[Path, Path]], bool]:
    """Pairs (input, output) and whether this is a batch (several files / folders).

    ``IN OUT`` is one job when OUT is a stream, has an output suffix or does not exist yet;
    ``-`` alone reads stdin and writes stdout."""
    from aecodec.files.ops import expand_inputs
    from aecodec.files.stdio import is_std
    if output_dir is None:
        if len(paths) == 2 and _single(paths, (out_suffix, *out_suffixes)):
            return [(paths[0], paths[1])], False
        if len(paths) == 1 and is_std(paths[0]):
            return [(paths[0], paths[0])], False
        if len(paths) == 1 and not paths[0].is_dir():
            return [(paths[0], paths[0].with_suffix(out_suffix))], False
        if len(paths) > 1:
            raise click.UsageError("several inputs need -o/--output-dir DIR")
    if any(is_std(p) for p in paths):
        raise click.UsageError("- (stdin) cannot be part of a batch")
    pairs = expand_inputs(list(paths), suffixes=in_suffixes)
    if not pairs:
        raise AecError(f"no input files found in {', '.join(map(str, paths))}")
    from aecodec.files.ops import check_collisions
    if output_dir is None:  # a single folder: outputs beside the inputs
        beside = [(f, f.with_suffix(out_suffix)) for f, _ in pairs]
        check_collisions(beside)
        return beside, True
    if output_dir.exists() and not output_dir.is_dir():
        raise click.UsageError(f"-o {output_dir} is not a directory")
    output_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(f, output_dir / rel.with_suffix(out_suffix)) for f, rel in pairs]
    check_collisions(jobs)
    for _, dst in jobs:
        dst.parent.mkdir(parents=True, exist_ok=True)
    return jobs, True


def _result_line(r: dict[str, Any]) -> str:
    """``OUT: 123456 bytes, 6.01 kbps, 180.0 s of audio in 14 s (13x real time)``."""
    size = f"{r['bytes']} bytes, {r['kbps']:.2f} kbps, " if "bytes" in r else ""
    return (f"{r['output']}: {size}{r['seconds']:.2f} s of audio in {r['wall_s']:.2f} s "
            f"({speed(r['seconds'], r['wall_s'])} real time)")


def run_batch(fn: Any, jobs: list[tuple[Path, Path]], *, verb: str, workers: int,
              quiet: bool, skip_existing: bool, scheduler: str | None = None,
              **opts: Any) -> None:
    """Run ``fn`` over ``jobs``: a line per file (size, kbps), a summary with totals and the
    elapsed time; a non-zero exit if any file failed (the others still finish). The files run
    in ``workers`` local processes, or on the Dask cluster at ``scheduler``."""
    from aecodec.files import startup
    from aecodec.files.ops import Outcome, run_many
    startup.resume()  # a batch runs for long in this process: the collector is on
    t0 = time.perf_counter()
    todo = [(s, d) for s, d in jobs if not (skip_existing and d.exists())]
    skipped = len(jobs) - len(todo)
    n = len(todo)

    def line(o: Outcome, done: int) -> None:
        if o.error:
            click.echo(f"[{done}/{n}] FAILED {o.src}: {o.error}", err=True)
        elif not quiet:
            click.echo(f"[{done}/{n}] ok {o.src} -> {_result_line(o.result or {})}", err=True)

    if scheduler is not None:
        from aecodec.files.cluster import dask_map
        outcomes = dask_map(fn, todo, scheduler=scheduler, on_done=line, **opts) if todo else []
    else:
        outcomes = run_many(fn, todo, workers=workers, on_done=line, **opts)
    failed = [o for o in outcomes if o.error]
    good = [o.result for o in outcomes if o.result]
    audio = sum(r["seconds"] for r in good)
    if not quiet or failed:
        size = sum(r.get("bytes", 0) for r in good)
        rate = f", {size} bytes, {size * 8 / audio / 1000:.2f} kbps" if size and audio else ""
        click.echo(f"{verb} {len(good)} of {len(jobs)} files ({skipped} skipped, "
                   f"{len(failed)} failed): {audio:.1f} s of audio{rate}, in "
                   f"{time.perf_counter() - t0:.1f} s", err=True)
    if failed:
        codes = {o.code for o in failed}
        err = AecError(f"{len(failed)} of {len(jobs)} files failed")
        err.exit_code = codes.pop() if len(codes) == 1 else 1
        raise err


def _skip(dst: Path, skip_existing: bool, quiet: bool) -> bool:
    from aecodec.files.stdio import is_stream_path
    if skip_existing and not is_stream_path(dst) and dst.exists():
        if not quiet:
            click.echo(f"{dst}: exists, skipped (-n/--skip-existing)", err=True)
        return True
    return False


def check_scheduler(scheduler: str | None, *, paths: tuple[Path, ...], workers: int) -> None:
    """``--scheduler``: the extra is installed (else exit 7, before any work), no ``-j``, and
    files only (a pipe or ``-`` cannot be sent to a cluster)."""
    if scheduler is None:
        return
    from aecodec.files.cluster import require_dask
    from aecodec.files.stdio import is_stream_path
    require_dask("--scheduler")
    if workers > 1:
        raise click.UsageError("-j and --scheduler do not go together (the cluster's workers "
                               "run the files)")
    if any(is_stream_path(p) for p in paths):
        raise click.UsageError("--scheduler codes files; - and pipes stay on this machine")


def common(fn: Any) -> Any:
    """Options both commands take."""
    for opt in reversed([
        click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
                     help="Worker processes for several files."),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="Run the files on the workers of this Dask scheduler "
                          "(tcp://host:8786; needs aecodec[dask] and a shared file system)."),
        click.option("--threads", type=click.IntRange(0, 256), default=0, show_default=True,
                     help="Compute threads per process; 0: up to 2 for one file, 1 per "
                          "-j worker or --scheduler task (the output is the same for any "
                          "count)."),
        click.option("-f", "--force", is_flag=True, help="Overwrite outputs that exist."),
        click.option("-n", "--skip-existing", is_flag=True,
                     help="Skip inputs whose output exists (batch reruns)."),
        click.option("-q", "--quiet", is_flag=True,
                     help="Print nothing but errors and warnings."),
    ]):
        fn = opt(fn)
    return fn


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=None,
              help="Write NAME.aec files here (needed for several inputs; folders recurse).")
@click.option("-b", "--bitrate", "kbps", default="6", show_default=True, metavar="KBPS",
              help="Target ACTUAL bitrate: 6, 6k or 6000 (bit/s); ladder 3, 6, 12; any "
                   "value 0.5-64 kbps.")
@click.option("--mono", is_flag=True, help="Code stereo input as a mono mix-down.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file to use [default: the shipped aecodec-v1].")
@click.option("--title", default=None, help="Tag: title (as opusenc; default: the input's).")
@click.option("--artist", default=None, help="Tag: artist.")
@click.option("--album", default=None, help="Tag: album.")
@click.option("--date", default=None, help="Tag: date.")
@click.option("--genre", default=None, help="Tag: genre.")
@click.option("--comment", default=None, help="Tag: comment.")
@common
def encode(paths: tuple[Path, ...], output_dir: Path | None, kbps: str, mono: bool,
           model_path: Path | None, jobs: int, scheduler: str | None, threads: int,
           force: bool, skip_existing: bool, quiet: bool, **tags: str | None) -> None:
    """Encode audio (WAV/FLAC/OGG/MP3, any rate/channels) to .aec.

    \b
      aecodec encode song.wav [song.aec]
      ffmpeg -i song.mp3 -f wav - | aecodec encode - - > song.aec
      aecodec encode a.wav b.flac music/ -o out/ -j 2
      aecodec encode music/ -o out/ --scheduler tcp://10.0.0.1:8786

    `-` is stdin / stdout (stdin is spooled to a temp file: the header holds the length).
    Tags (TITLE, ARTIST, ...) are kept from the input; --title etc. replace them."""
    threads_ = thread_env(threads, jobs=jobs, scheduler=scheduler)
    target = kbps_option(kbps)
    check_scheduler(scheduler, paths=paths, workers=jobs)
    from aecodec.dsp.audio import AUDIO_SUFFIXES
    from aecodec.files.ops import encode_file
    jobs_, batch = plan(paths, output_dir, out_suffix=".aec", in_suffixes=AUDIO_SUFFIXES)
    given = {k: v for k, v in tags.items() if v is not None}
    opts: dict[str, Any] = {"kbps": target, "mono": mono, "model_path": model_path,
                            "force": force, "tags": given or None, "threads": threads_}
    if batch or scheduler:
        run_batch(encode_file, jobs_, verb="encoded", workers=jobs, quiet=quiet,
                  skip_existing=skip_existing, scheduler=scheduler, **opts)
        return
    src, dst = jobs_[0]
    from aecodec.files.stdio import is_stream_path
    if _skip(dst, skip_existing, quiet):
        return
    if not is_stream_path(dst) and dst.suffix.lower() != ".aec":
        click.echo(f"aecodec: warning: {dst}: name does not end in .aec; writing .aec data "
                   "anyway", err=True)
    bar = ProgressLine(f"encoding {src}", enabled=enabled(quiet))
    try:
        r = encode_file(src, dst, progress=bar, **opts)
    finally:
        bar.close()
    if not quiet:
        click.echo(_result_line(r), err=True)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=None,
              help="Write NAME.wav files here (needed for several inputs; folders recurse).")
@click.option("--rate", type=click.IntRange(8000, 192000), default=None,
              help="Output sample rate [default: the original].")
@click.option("--subtype", default=None, metavar="NAME",
              help="Sample format: PCM_16, PCM_24, PCM_32, FLOAT, ... as the output's format "
                   "holds [default: PCM_16; VORBIS for .ogg, OPUS for .opus].")
@click.option("--gain", type=click.FloatRange(-60, 20), default=0.0, show_default=True,
              help="Gain in dB before writing; integer formats clip to full scale and a "
                   "warning counts clipped samples.")
@click.option("--start", type=TIME, default=0.0, show_default=True,
              help="Decode from this time: seconds, M:SS or H:MM:SS (only the chunks needed "
                   "are read).")
@click.option("--duration", type=TIME, default=None,
              help="Decode this long (same syntax) [default: to the end].")
@click.option("--iters", type=click.IntRange(0, 1000), default=None,
              help="Fast Griffin-Lim iterations [default: the model's, 32 without a learned "
                   "initial phase].")
@click.option("--ignore-errors", is_flag=True,
              help="Decode chunks that fail their CRC as silence, and a truncated file up to "
                   "its last whole chunk, instead of stopping.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file [default: the one the file names, from the model folders].")
@common
def decode(paths: tuple[Path, ...], output_dir: Path | None, rate: int | None,
           subtype: str | None, gain: float, start: float, duration: float | None,
           iters: int | None, ignore_errors: bool, model_path: Path | None, jobs: int,
           scheduler: str | None, threads: int, force: bool, skip_existing: bool,
           quiet: bool) -> None:
    """Decode .aec files to WAV, FLAC, OGG, ... (by the output's suffix), chunk by chunk.

    \b
      aecodec decode song.aec [out.wav|out.flac|out.ogg] [--start 1:30 --duration 10]
      aecodec decode song.aec - | aplay        # WAV on stdout
      aecodec decode aec/ -o wav/ -j 2
      aecodec decode aec/ -o wav/ --scheduler tcp://10.0.0.1:8786"""
    threads_ = thread_env(threads, jobs=jobs, scheduler=scheduler)
    check_scheduler(scheduler, paths=paths, workers=jobs)
    from aecodec.files.formats import SUFFIX_FORMATS, output_format
    from aecodec.files.ops import decode_file
    from aecodec.files.stdio import is_stream_path
    if duration is not None and duration <= 0:
        raise click.BadParameter("must be > 0", param_hint="'--duration'")
    subtype = subtype.upper() if subtype else None
    jobs_, batch = plan(paths, output_dir, out_suffix=".wav", in_suffixes=(".aec",),
                        out_suffixes=tuple(SUFFIX_FORMATS))
    try:  # a suffix or subtype that cannot be written is refused before any work
        for _, dst in jobs_[:1]:
            output_format(dst, subtype, stream=is_stream_path(dst))
    except AecError as exc:
        raise click.UsageError(str(exc)) from None
    opts: dict[str, Any] = {"rate": rate, "subtype": subtype, "start": start,
                            "duration": duration, "iters": iters, "gain": gain,
                            "ignore_errors": ignore_errors, "model_path": model_path,
                            "force": force, "threads": threads_}
    if batch or scheduler:
        run_batch(decode_file, jobs_, verb="decoded", workers=jobs, quiet=quiet,
                  skip_existing=skip_existing, scheduler=scheduler, **opts)
        return
    src, dst = jobs_[0]
    if _skip(dst, skip_existing, quiet):
        return
    bar = ProgressLine(f"decoding {src}", enabled=enabled(quiet))
    try:
        r = decode_file(src, dst, progress=bar, **opts)
    finally:
        bar.close()
    if r["damaged"]:
        click.echo(f"aecodec: warning: {r['input']}: {r['damaged']} damaged chunk(s) "
                   "decoded as silence", err=True)
    if r.get("missing"):
        click.echo(f"aecodec: warning: {r['input']}: truncated; decoded up to its last whole "
                   f"chunk ({r['missing']} chunk(s) missing)", err=True)
    if r["clipped"]:
        click.echo(f"aecodec: warning: {r['output']}: {r['clipped']} samples clipped to full "
                   "scale (try --gain -3 or --subtype FLOAT)", err=True)
    if not quiet:
        click.echo(f"{_result_line(r)}; {r['rate']} Hz, {r['channels']} ch, {r['format']} "
                   f"{r['subtype']}", err=True)


def register(group: click.Group) -> None:
    """Add ``encode`` and ``decode`` to ``group``."""
    group.add_command(encode)
    group.add_command(decode)
