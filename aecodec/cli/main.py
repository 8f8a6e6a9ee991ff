"""Command-line interface: ``aecodec encode|decode|info|bench|train``.

Heavy modules (scipy, the model; torch for training only) are imported inside the commands, so ``--help`` and usage
errors are fast. Every :class:`~aecodec.errors.AecError` becomes one line on stderr,
``aecodec: error: <message>``, and its ``exit_code``; Ctrl-C exits 130 leaving no partial output.
"""

from __future__ import annotations

from aecodec.files import startup

startup.pause()  # until the command's imports are done (aecodec.files.startup)

import shlex  # after the pause, as every import below
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from aecodec import __version__
from aecodec.errors import AecError, OutputError

RESUME_IN_OPS = ("encode", "decode")
"""Commands whose file operations turn the collector back on after their imports; every other
command turns it on as it starts."""

EXIT_INTERRUPTED = 130


def fail(exc: AecError) -> NoReturn:
    msg = str(exc).replace("\n", " ")
    click.echo(f"aecodec: error: {msg}", err=True)
    sys.exit(exc.exit_code)


def _from_stdout(exc: OSError) -> bool:
    """Whether an ``OSError`` came from writing standard output (click.echo or the flush)."""
    tb = exc.__traceback__
    last = tb
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "echo" and "click" in code.co_filename:
            return True
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_name == "invoke" and \
        last.tb_frame.f_globals.get("__name__") == __name__


def _stdout_lost() -> None:
    """Point standard output at /dev/null, so the interpreter's flush at exit cannot fail
    again (and print a traceback) on what is still buffered."""
    import os
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


class AecGroup(click.Group):
    """Turns project errors, usage errors and Ctrl-C into one-line messages and exit codes;
    ``aecodec IN [OUT]`` without a command encodes, or decodes when IN ends in ``.aec``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and (args[0] == "-" or not
                                                        args[0].startswith("-")):
            first = Path(args[0])
            if first.suffix.lower() == ".aec":
                args = ["decode", *args]
            elif first.exists() or args[0] == "-":
                args = ["encode", *args]
        # the group's own options are flags: the first other word names the command
        ctx.meta["aecodec.command"] = next((a for a in args if not a.startswith("-")), None)
        return super().parse_args(ctx, args)

    def main(self, args: Any = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name or "aecodec", complete_var,
                              standalone_mode=False, **extra)
        except click.UsageError as exc:  # click's three-line block, as one line
            where = exc.ctx.command_path if exc.ctx else "aecodec"
            click.echo(f"aecodec: error: {exc.format_message()} (see {where} -h)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"aecodec: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aecodec: interrupted; no output written", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as exc:  # --help and usage errors write to stdout before invoke()
            if not _from_stdout(exc):
                raise
            _stdout_lost()
            fail(OutputError(f"standard output: cannot write ({exc.strerror or exc})"))
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        from aecodec.files.signals import Interrupted, catch_signals
        if ctx.meta.get("aecodec.command") not in RESUME_IN_OPS:
            startup.resume()
        with catch_signals():  # SIGTERM/SIGHUP unwind like Ctrl-C: temp files are removed
            try:
                result = super().invoke(ctx)
                sys.stdout.flush()  # now, not at exit, where a failure is a traceback
                return result
            except AecError as exc:
                fail(exc)
            except OSError as exc:
                if not _from_stdout(exc):
                    raise
                _stdout_lost()
                fail(OutputError(f"standard output: cannot write ({exc.strerror or exc})"))
            except Interrupted as exc:
                click.echo(f"aecodec: {exc.message()}", err=True)
                sys.exit(exc.exit_code)
            except KeyboardInterrupt:
                click.echo("aecodec: interrupted; no output written", err=True)
                sys.exit(EXIT_INTERRUPTED)


@click.group("aecodec", cls=AecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, _p, v: _version(ctx) if v else None,
              help="Show the version, the shipped models and the library versions.")
def main() -> None:
    """aecodec: a neural audio codec for music (STFT autoencoder + Griffin-Lim).

    \b
      aecodec encode song.wav song.aec -b 6
      aecodec decode song.aec out.wav
      aecodec info song.aec
      aecodec song.wav            # no command: encode (decode when the input ends in .aec)

    Shell completion: eval "$(_AECODEC_COMPLETE=bash_source aecodec)" (zsh_source, fish_source).
    """


def _version(ctx: click.Context) -> None:
    """aecodec's version, the shipped model files and the libraries that do the work."""
    from importlib import metadata
    click.echo(f"aecodec {__version__}")
    from aecodec.model.npz_weights import model_dirs
    names = sorted({p.name for d in model_dirs() if d.is_dir()
                    for p in (*d.glob("*.npz"), *d.glob("*.pt"))})
    click.echo(f"models: {', '.join(names) or 'none found'}")
    libs = []
    for dist in ("numpy", "scipy", "torch", "soundfile", "zstandard", "constriction", "click"):
        try:
            libs.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            libs.append(f"{dist} (not installed)")
    import soundfile
    libs.append(f"libsndfile {soundfile.__libsndfile_version__}")
    click.echo("libraries: " + ", ".join(libs))
    ctx.exit(0)


def _csv_floats(value: str) -> list[float]:
    try:
        out = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of kbps") from None
    if not out or any(not 0 < v <= 64 for v in out):
        raise click.BadParameter(f"{value!r}: each bitrate must be in (0, 64] kbps")
    return out


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
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
@click.option("-f", "--force", is_flag=True, help="Overwrite report files that exist.")
def bench(paths: tuple[Path, ...], bitrates: str, against: str, iters: int | None,
          model_path: Path | None, json_path: Path | None, csv_path: Path | None,
          plot_path: Path | None, diagnose: bool, visqol: bool, html_path: Path | None,
          html_audio: str, html_seconds: float, verbose: bool, force: bool) -> None:
    """Benchmark aecodec (and reference codecs) on PATHS: files or folders of music."""
    if plot_path is not None:  # the optional extra is checked before any work starts
        import importlib.util
        if importlib.util.find_spec("matplotlib") is None:
            raise AecError("--plot needs matplotlib: pip install 'aecodec[plot]' (nothing run)")
    from aecodec.bench.run import run_bench
    from aecodec.bench.table import check_reports, plot_rd, to_markdown, write_csv, write_json
    rates = _csv_floats(bitrates)
    check_reports([json_path, csv_path, plot_path, html_path], inputs=list(paths), force=force)
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


from aecodec.cli.classify import register
from aecodec.cli.codec import register as register_codec
from aecodec.cli.info import register as register_info
from aecodec.cli.train import train

register(main)
register_codec(main)
register_info(main)
main.add_command(train)
