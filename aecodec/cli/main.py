"""Command-line interface: ``aecodec encode|decode|info|bench|train``.

Heavy modules (scipy, the model; torch for training only) are imported inside the commands, so ``--help`` and usage
errors are fast. Every :class:`~aecodec.errors.AecError` becomes one line on stderr,
``aecodec: error: <message>``, and its ``exit_code``; Ctrl-C exits 130 leaving no partial output.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from aecodec import __version__
from aecodec.errors import AecError

EXIT_INTERRUPTED = 130


def fail(exc: AecError) -> NoReturn:
    msg = str(exc).replace("\n", " ")
    click.echo(f"aecodec: error: {msg}", err=True)
    sys.exit(exc.exit_code)


class AecGroup(click.Group):
    """Turns project errors and Ctrl-C into one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AecError as exc:
            fail(exc)
        except KeyboardInterrupt:
            click.echo("aecodec: interrupted; no output written", err=True)
            sys.exit(EXIT_INTERRUPTED)


def _kbps(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number of kbps") from None
    from aecodec.format.meta import MAX_KBPS, MIN_KBPS
    if not MIN_KBPS <= v <= MAX_KBPS:
        raise click.BadParameter(f"{v:g} kbps is outside {MIN_KBPS:g}..{MAX_KBPS:g}")
    return v


@click.group(cls=AecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aecodec")
def main() -> None:
    """aecodec: a neural audio codec for music (STFT autoencoder + Griffin-Lim).

    \b
      aecodec encode song.wav song.aec -b 6
      aecodec decode song.aec out.wav
      aecodec info song.aec
    """


def _plan(paths: tuple[Path, ...], output_dir: Path | None, *, out_suffix: str,
          in_suffixes: tuple[str, ...]) -> tuple[list[tuple[Path, Path]], bool]:
    """Pairs (input, output) and whether this is a batch (several files / folders)."""
    from aecodec.errors import AecError
    from aecodec.files.ops import expand_inputs
    if output_dir is None:
        same = len(paths) == 2 and paths[0].exists() and paths[1].exists() and \
            paths[0].resolve() == paths[1].resolve()
        if len(paths) == 2 and (paths[1].suffix.lower() == out_suffix or same or (
                not paths[0].is_dir() and not paths[1].exists())):
            return [(paths[0], paths[1])], False  # INPUT OUTPUT
        if len(paths) == 1 and not paths[0].is_dir():
            return [(paths[0], paths[0].with_suffix(out_suffix))], False
        if len(paths) > 1:
            raise click.UsageError("several inputs need -o/--output-dir DIR")
    pairs = expand_inputs(list(paths), suffixes=in_suffixes)
    if not pairs:
        raise AecError(f"no input files found in {', '.join(map(str, paths))}")
    if output_dir is None:  # a single folder: outputs beside the inputs
        return [(f, f.with_suffix(out_suffix)) for f, _ in pairs], True
    if output_dir.exists() and not output_dir.is_dir():
        raise click.UsageError(f"-o {output_dir} is not a directory")
    output_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(f, output_dir / rel.with_suffix(out_suffix)) for f, rel in pairs]
    for _, dst in jobs:
        dst.parent.mkdir(parents=True, exist_ok=True)
    return jobs, True


def _finish_batch(outcomes: list[Any], verb: str) -> None:
    from aecodec.errors import AecError
    failed = [o for o in outcomes if o.error]
    total = sum(o.result["seconds"] for o in outcomes if o.result)
    click.echo(f"{verb} {len(outcomes) - len(failed)} of {len(outcomes)} files "
               f"({total:.1f} s of audio); {len(failed)} failed", err=True)
    for o in failed:
        click.echo(f"aecodec: error: {o.error}", err=True)
    if failed:
        codes = {o.code for o in failed}
        err = AecError(f"{len(failed)} of {len(outcomes)} files failed")
        err.exit_code = codes.pop() if len(codes) == 1 else 1
        raise err


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=None,
              help="Write NAME.aec files here (needed for several inputs; folders recurse).")
@click.option("-b", "--bitrate", "kbps", default="6", show_default=True,
              help="Target ACTUAL bitrate in kbps (ladder: 3, 6, 12; any value 0.5-64).")
@click.option("--mono", is_flag=True, help="Code stereo input as a mono mix-down.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes for several files.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file to use [default: the shipped aecodec-v1].")
@click.option("-f", "--force", is_flag=True, help="Overwrite outputs that exist.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def encode(paths: tuple[Path, ...], output_dir: Path | None, kbps: str, mono: bool, jobs: int,
           model_path: Path | None, force: bool, quiet: bool) -> None:
    """Encode audio (WAV/FLAC/OGG/MP3, any rate/channels) to .aec.

    \b
      aecodec encode song.wav [song.aec]
      aecodec encode a.wav b.flac music/ -o out/ -j 2

    Reads and codes each input chunk by chunk, so memory does not grow with its length."""
    target = _kbps(kbps)
    from aecodec.dsp.audio import AUDIO_SUFFIXES
    from aecodec.files.ops import encode_file, run_many
    pairs, batch = _plan(paths, output_dir, out_suffix=".aec", in_suffixes=AUDIO_SUFFIXES)
    if not batch:
        r = encode_file(*pairs[0], kbps=target, mono=mono, model_path=model_path, force=force)
        if not quiet:
            click.echo(f"{r['output']}: {r['bytes']} bytes, {r['kbps']:.2f} kbps, "
                       f"{r['seconds']:.2f} s ({r['seconds'] / r['wall_s']:.0f}x real time)",
                       err=True)
        return
    outcomes = run_many(encode_file, pairs, workers=jobs, progress=not quiet, kbps=target,
                        mono=mono, model_path=model_path, force=force)
    _finish_batch(outcomes, "encoded")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=None,
              help="Write NAME.wav files here (needed for several inputs; folders recurse).")
@click.option("--rate", type=click.IntRange(8000, 192000), default=None,
              help="Output sample rate [default: the original].")
@click.option("--subtype", type=click.Choice(["PCM_16", "PCM_24", "PCM_32", "FLOAT"]),
              default="PCM_16", show_default=True, help="WAV sample format.")
@click.option("--start", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Decode from this many seconds in (only the chunks needed are read).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Decode this many seconds [default: to the end].")
@click.option("--iters", type=click.IntRange(0, 1000), default=None,
              help="Fast Griffin-Lim iterations [default: the model's, 32 without a learned "
                   "initial phase].")
@click.option("--ignore-errors", is_flag=True,
              help="Write silence for chunks that fail their CRC instead of stopping.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes for several files.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file [default: the one the file names, from the model folders].")
@click.option("-f", "--force", is_flag=True, help="Overwrite outputs that exist.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def decode(paths: tuple[Path, ...], output_dir: Path | None, rate: int | None, subtype: str,
           start: float, duration: float | None, iters: int | None, ignore_errors: bool, jobs: int,
           model_path: Path | None, force: bool, quiet: bool) -> None:
    """Decode .aec files to WAV, chunk by chunk.

    \b
      aecodec decode song.aec [out.wav] [--start 60 --duration 10]
      aecodec decode aec/ -o wav/ -j 2"""
    from aecodec.files.ops import decode_file, run_many
    pairs, batch = _plan(paths, output_dir, out_suffix=".wav", in_suffixes=(".aec",))
    opts: dict[str, Any] = {"rate": rate, "subtype": subtype, "start": start, "duration": duration,
            "iters": iters, "ignore_errors": ignore_errors, "model_path": model_path,
            "force": force}
    if not batch:
        r = decode_file(*pairs[0], **opts)
        if r["damaged"]:
            click.echo(f"aecodec: warning: {r['input']}: {r['damaged']} damaged chunk(s) "
                       "decoded as silence", err=True)
        if not quiet:
            click.echo(f"{r['output']}: {r['seconds']:.2f} s, {r['rate']} Hz, {r['channels']} ch,"
                       f" {subtype} ({r['seconds'] / r['wall_s']:.0f}x real time)", err=True)
        return
    _finish_batch(run_many(decode_file, pairs, workers=jobs, progress=not quiet, **opts),
                  "decoded")


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def info(input: Path, as_json: bool) -> None:
    """Show what an .aec file holds and its actual bitrate."""
    from aecodec.format.meta import file_info
    summary = file_info(input)
    meta, size, seconds = summary, summary["bytes"], summary["length"] / summary["rate"]
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    with input.open("rb") as f:
        version = f.read(5)[4]  # read_meta checked the header: a version this build reads
    click.echo(f"{input}: aecodec format v{version}, model {meta['model']['id']} "
               f"(sha256 {meta['model']['sha256'][:12]})")
    coded = {"ild": "parametric stereo (level differences)",
             "image": "stereo image (level differences + coherence)"}.get(meta["stereo"], "mono")
    click.echo(f"  audio:   {seconds:.3f} s, {meta['rate']} Hz, {meta['channels']} ch "
               f"(coded as {coded} at {meta['model_rate']} Hz)")
    click.echo(f"  latent:  {meta['latent'][0]} x {meta['latent'][1]}, "
               f"{summary['chunks']} chunks of {meta['chunk_frames']} frames")
    coder = meta["coder"]
    click.echo(f"  coder:   {coder}" + (" (context-adaptive ANS, tables models/"
                                         f"{coder}.npz)" if coder != "zstd" else ""))
    if meta["stereo"] == "image":
        im = meta["image"]
        click.echo(f"  stereo:  image: ILD in {im['bands']} bands every {im['slot']} frames "
                   f"({im['step_db']:g}-dB steps), ICC per {im['icc'][0]} bands x "
                   f"{im['icc'][1]} frames (stream kind 5)")
    if "phase" in meta:
        click.echo(f"  phase:   {meta['phase']['peaks']} peak phases a frame, "
                   f"{meta['phase']['bits']} bits")
    if "highband" in meta:
        from aecodec.coding.highband import EDGES, MODEL_HOP
        hbm = meta["highband"]
        top = min(EDGES[hbm["bands"]], meta["rate"] / 2) / 1000
        click.echo(f"  high band: {EDGES[0] / 1000:g}-{top:g} kHz, {hbm['bands']} bands, an "
                   f"envelope every {hbm['slot'] * MODEL_HOP / meta['model_rate'] * 1000:.0f} ms")
    click.echo(f"  bitrate: {size * 8 / seconds / 1000:.2f} kbps ({size} bytes)")


def _csv_floats(value: str) -> list[float]:
    try:
        out = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of kbps") from None
    if not out or any(not 0 < v <= 64 for v in out):
        raise click.BadParameter(f"{value!r}: each bitrate must be in (0, 64] kbps")
    return out


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-b", "--bitrate", "bitrates", default="3,6,12", show_default=True,
              help="Comma-separated aecodec operating points (kbps).")
@click.option("--against", default="",
              help="Reference codecs: any of opus,mp3,dct,dct8 (dct8: the DCT reference with "
                   "int8 coefficients, as aecodec's residual layer).")
@click.option("--iters", type=click.IntRange(0, 1000), default=None,
              help="Griffin-Lim iterations for aecodec's decoder [default: the model's].")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file [default: the shipped aecodec-v1].")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write a JSON report.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write per-file CSV rows.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path),
              help="Write a rate-distortion PNG (needs matplotlib).")
@click.option("--diagnose", is_flag=True,
              help="Also rows with the TRUE phase and Griffin-Lim on TRUE magnitudes.")
@click.option("--visqol", is_flag=True,
              help="Also ViSQOL MOS-LQO (audio mode, 48 kHz; needs pip install visqol-python).")
@click.option("--html", "html_path", type=click.Path(path_type=Path),
              help="Write a listening report: one self-contained HTML page with players and "
                   "spectrograms (needs matplotlib).")
@click.option("--html-audio", type=click.Choice(["auto", "opus", "flac"]), default="auto",
              show_default=True, help="Audio in the page: Opus 64 kbps (needs opusenc; auto "
                                      "falls back to FLAC without it) or exact 16-bit FLAC.")
@click.option("--html-seconds", type=click.FloatRange(min=0.5), default=20.0, show_default=True,
              help="Seconds of each file the page holds (from the start).")
@click.option("-v", "--verbose", is_flag=True, help="Per-file rows in the table too.")
def bench(paths: tuple[Path, ...], bitrates: str, against: str, iters: int | None,
          model_path: Path | None, json_path: Path | None, csv_path: Path | None,
          plot_path: Path | None, diagnose: bool, visqol: bool, html_path: Path | None,
          html_audio: str, html_seconds: float, verbose: bool) -> None:
    """Benchmark aecodec (and reference codecs) on PATHS: files or folders of music."""
    from aecodec.bench.run import run_bench
    from aecodec.bench.table import plot_rd, to_markdown, write_csv, write_json
    rates = _csv_floats(bitrates)
    refs = [c.strip() for c in against.split(",") if c.strip()]
    report = None
    if html_path:  # checked (extra, encoder, output folder) before any clip is coded
        from aecodec.bench.report import ListeningReport, default_audio_format
        report = ListeningReport(html_path, excerpt_s=html_seconds,
                                 audio_format=default_audio_format(html_audio))
    rows, info = run_bench(list(paths), bitrates=rates, against=refs, iters=iters,
                           model_path=model_path, diagnose=diagnose, visqol=visqol,
                           progress=sys.stderr.isatty(),
                           on_clip=report.add_clip if report else None)
    click.echo(to_markdown(rows, verbose=verbose))
    click.echo(f"\nmodel {info['model']} ({info['sha256']}), load {info['model_load_s']:.2f} s; "
               f"peak RSS {info['peak_rss_mb']:.0f} MB; {info['files']} files", err=True)
    if json_path:
        write_json(json_path, rows, info)
    if csv_path:
        write_csv(csv_path, rows)
    if plot_path:
        plot_rd(plot_path, rows)
    if report:
        size = report.write(rows, info, command=shlex.join(["aecodec", *sys.argv[1:]]))
        click.echo(f"listening report: {html_path} ({size / 1e6:.1f} MB, "
                   f"{report.players} players)", err=True)
    if all(r.error for r in rows):
        raise AecError("every file failed")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
              add_help_option=False)
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train the codec model (options: see `aecodec train --help`; needs torch)."""
    from aecodec.errors import require_torch
    require_torch("aecodec train")
    from aecodec.train.codec import main as train_main
    train_main(list(ctx.args))

from aecodec.cli.classify import register

register(main)
