"""Command-line interface: ``aecodec encode|decode|info|bench|train``.

Heavy modules (torch, the model) are imported inside the commands, so ``--help`` and usage
errors are fast. Every :class:`~aecodec.errors.AecError` becomes one line on stderr,
``aecodec: error: <message>``, and its ``exit_code``; Ctrl-C exits 130 leaving no partial output.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .errors import AecError

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
    from .codec import MAX_KBPS, MIN_KBPS
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


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path), required=False)
@click.option("-b", "--bitrate", "kbps", default="6", show_default=True,
              help="Target ACTUAL bitrate in kbps (ladder: 3, 6, 12; any value 0.5-64).")
@click.option("--mono", is_flag=True, help="Code stereo input as a mono mix-down.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file to use [default: the shipped aecodec-v1].")
@click.option("-f", "--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def encode(input: Path, output: Path | None, kbps: str, mono: bool, model_path: Path | None,
           force: bool, quiet: bool) -> None:
    """Encode INPUT audio (WAV/FLAC/OGG/MP3, any rate/channels) to OUTPUT (default INPUT.aec).

    Reads and codes the input chunk by chunk, so memory does not grow with its length."""
    target = _kbps(kbps)
    out = output or input.with_suffix(".aec")
    from .output import check_output
    check_output(out, force=force, inputs=(input,))
    from .audio import iter_blocks, open_audio
    from .codec import encode_blocks, load_model
    from .output import atomic_output
    model = load_model(path=model_path) if model_path else load_model()
    t0 = time.perf_counter()
    with open_audio(input) as src, atomic_output(out, force=force, inputs=(input,)) as f:
        rate, channels, frames = int(src.samplerate), int(src.channels), int(src.frames)
        size = encode_blocks(iter_blocks(src, name=str(input)), f, rate=rate,
                             channels=channels, length=frames, kbps=target, model=model,
                             mono=mono)
    if not quiet:
        seconds = frames / rate
        click.echo(f"{out}: {size} bytes, {size * 8 / seconds / 1000:.2f} kbps, {seconds:.2f} s "
                   f"({seconds / (time.perf_counter() - t0):.0f}x real time)", err=True)


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path), required=False)
@click.option("--rate", type=click.IntRange(8000, 192000), default=None,
              help="Output sample rate [default: the original].")
@click.option("--subtype", type=click.Choice(["PCM_16", "PCM_24", "PCM_32", "FLOAT"]),
              default="PCM_16", show_default=True, help="WAV sample format.")
@click.option("--start", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Decode from this many seconds in (only the chunks needed are read).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Decode this many seconds [default: to the end].")
@click.option("--iters", type=click.IntRange(0, 1000), default=32, show_default=True,
              help="Fast Griffin-Lim iterations.")
@click.option("--ignore-errors", is_flag=True,
              help="Write silence for chunks that fail their CRC instead of stopping.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file [default: the one the file names, from the model folders].")
@click.option("-f", "--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def decode(input: Path, output: Path | None, rate: int | None, subtype: str, start: float,
           duration: float | None, iters: int, ignore_errors: bool, model_path: Path | None,
           force: bool, quiet: bool) -> None:
    """Decode an .aec INPUT to a WAV OUTPUT (default INPUT.wav), chunk by chunk."""
    out = output or input.with_suffix(".wav")
    from .output import check_output
    check_output(out, force=force, inputs=(input,))
    import soundfile as sf

    from .codec import decode_to, read_meta
    from .output import atomic_output
    meta, _ = read_meta(input)
    out_rate = rate or meta["rate"]
    channels = 2 if meta.get("stereo") == "ild" else meta["channels"]
    if start * meta["rate"] >= meta["length"]:
        raise click.BadParameter(f"--start {start:g} is past the end "
                                 f"({meta['length'] / meta['rate']:.2f} s)")
    t0 = time.perf_counter()
    with open(input, "rb") as src, atomic_output(out, force=force, inputs=(input,)) as f, \
            sf.SoundFile(f, mode="w", samplerate=out_rate, channels=channels, subtype=subtype,
                         format="WAV") as wav:
        def sink(block: Any) -> None:
            wav.write(block if subtype == "FLOAT" else block.clip(-1.0, 1.0))
        info = decode_to(src, sink, name=str(input), rate=out_rate, start=start,
                         duration=duration, iters=iters, ignore_errors=ignore_errors,
                         model_path=model_path)
    if info["damaged"]:
        click.echo(f"aecodec: warning: {input}: {info['damaged']} damaged chunk(s) decoded as "
                   "silence", err=True)
    if not quiet:
        seconds = info["frames"] / out_rate
        click.echo(f"{out}: {seconds:.2f} s, {out_rate} Hz, {channels} ch, {subtype} "
                   f"({seconds / (time.perf_counter() - t0):.0f}x real time)", err=True)


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def info(input: Path, as_json: bool) -> None:
    """Show what an .aec file holds and its actual bitrate."""
    from .codec import read_meta
    meta, index = read_meta(input)
    size = input.stat().st_size
    seconds = meta["length"] / meta["rate"]
    summary = {"file": str(input), "bytes": size, "seconds": round(seconds, 3),
               "kbps": round(size * 8 / seconds / 1000, 3), "chunks": len(index), **meta}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{input}: aecodec format v1, model {meta['model']['id']} "
               f"(sha256 {meta['model']['sha256'][:12]})")
    coded = "parametric stereo" if meta.get("stereo") == "ild" else "mono"
    click.echo(f"  audio:   {seconds:.3f} s, {meta['rate']} Hz, {meta['channels']} ch "
               f"(coded as {coded} at {meta['model_rate']} Hz)")
    click.echo(f"  latent:  {meta['latent'][0]} x {meta['latent'][1]}, "
               f"{len(index)} chunks of {meta['chunk_frames']} frames")
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
@click.option("--against", default="", help="Reference codecs: any of opus,mp3,dct.")
@click.option("--iters", type=click.IntRange(0, 1000), default=32, show_default=True,
              help="Griffin-Lim iterations for aecodec's decoder.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Weights file [default: the shipped aecodec-v1].")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write a JSON report.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write per-file CSV rows.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path),
              help="Write a rate-distortion PNG (needs matplotlib).")
@click.option("--diagnose", is_flag=True,
              help="Also rows with the TRUE phase and Griffin-Lim on TRUE magnitudes.")
@click.option("-v", "--verbose", is_flag=True, help="Per-file rows in the table too.")
def bench(paths: tuple[Path, ...], bitrates: str, against: str, iters: int,
          model_path: Path | None, json_path: Path | None, csv_path: Path | None,
          plot_path: Path | None, diagnose: bool, verbose: bool) -> None:
    """Benchmark aecodec (and reference codecs) on PATHS: files or folders of music."""
    from .bench import plot_rd, run_bench, to_markdown, write_csv, write_json
    rates = _csv_floats(bitrates)
    refs = [c.strip() for c in against.split(",") if c.strip()]
    rows, info = run_bench(list(paths), bitrates=rates, against=refs, iters=iters,
                           model_path=model_path, diagnose=diagnose,
                           progress=sys.stderr.isatty())
    click.echo(to_markdown(rows, verbose=verbose))
    click.echo(f"\nmodel {info['model']} ({info['sha256']}), load {info['model_load_s']:.2f} s; "
               f"peak RSS {info['peak_rss_mb']:.0f} MB; {info['files']} files", err=True)
    if json_path:
        write_json(json_path, rows, info)
    if csv_path:
        write_csv(csv_path, rows)
    if plot_path:
        plot_rd(plot_path, rows)
    if all(r.error for r in rows):
        raise AecError("every file failed")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
              add_help_option=False)
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train the codec model (options: see `aecodec train --help`)."""
    from .train import main as train_main
    train_main(list(ctx.args))

from .cli_classify import register

register(main)
