"""``aecodec info``: what ``.aec`` files hold, after the checks decode makes before loading a
model (:func:`aecodec.format.meta.file_info`); ``--verify`` reads every chunk too.

``register(main)`` adds the command to the ``aecodec`` group, which turns every
:class:`~aecodec.errors.AecError` into a one-line message and its exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from aecodec.errors import AecError


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
@click.option("--verify", is_flag=True,
              help="Also read every chunk and check its CRC and streams.")
def info(inputs: tuple[Path, ...], as_json: bool, verify: bool) -> None:
    """Show what .aec files hold and their actual bitrate (the checks decode makes before
    loading a model; --verify: every chunk too)."""
    from aecodec.format.meta import file_info
    failed: list[AecError] = []
    summaries: list[dict[str, Any]] = []
    for path in inputs:
        try:
            summary = file_info(path, verify=verify)
        except AecError as exc:
            if len(inputs) == 1:
                raise
            click.echo(f"aecodec: error: {str(exc).replace(chr(10), ' ')}", err=True)
            failed.append(exc)
            summaries.append({"file": str(path), "error": str(exc)})
            continue
        summaries.append(summary)
        if not as_json:
            _print_info(path, summary)
    if as_json:
        click.echo(json.dumps(summaries[0] if len(inputs) == 1 else summaries, indent=2))
    if failed:
        err = AecError(f"{len(failed)} of {len(inputs)} files failed")
        codes = {e.exit_code for e in failed}
        err.exit_code = codes.pop() if len(codes) == 1 else 1
        raise err


def _print_info(input: Path, summary: dict[str, Any]) -> None:
    meta, size, seconds = summary, summary["bytes"], summary["length"] / summary["rate"]
    with input.open("rb") as f:
        version = f.read(5)[4]  # read_meta checked the header: a version this build reads
    click.echo(f"{input}: aecodec format v{version}, model {meta['model']['id']} "
               f"(sha256 {meta['model']['sha256'][:12]})")
    coded = {"ild": "parametric stereo (level differences)",
             "image": "stereo image (level differences + coherence)"}.get(meta["stereo"], "mono")
    click.echo(f"  audio:   {seconds:.3f} s, {meta['rate']} Hz, {meta['channels']} ch "
               f"(coded as {coded} at {meta['model_rate']} Hz)")
    click.echo(f"  latent:  {meta['latent'][0]} x {meta['latent'][1]}, "
               f"{summary['chunks']} chunks of {meta['chunk_frames']} frames"
               + (" (all verified: CRCs and streams)" if summary.get("verified") else ""))
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
    if meta.get("tags"):
        click.echo("  tags:    " + ", ".join(f"{k}={v}" for k, v in meta["tags"].items()))
    click.echo(f"  bitrate: {size * 8 / seconds / 1000:.2f} kbps ({size} bytes)")


def register(group: click.Group) -> None:
    """Add ``info`` to ``group``."""
    group.add_command(info)
