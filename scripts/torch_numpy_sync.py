"""Torch reference nets vs the numpy runtime on the same clips: bytes, symbols, peak picks.

    python scripts/torch_numpy_sync.py CLIPS... [-b 3,6,12] [--seconds 10]

For each clip and bitrate, encodes with the numpy nets and with the torch nets behind the same
pipeline (:class:`aecodec.model.reference.TorchNet`) and prints whether the ``.aec`` bytes are
identical, the share of latent symbols and chunk steps that differ, and - for the decoder side
of the peak-phase layer - the share of frames whose picked peaks differ between the torch and
numpy decoders' ln-magnitudes of the same file. Needs torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from aecodec.codec.decode import decode_logmag
from aecodec.codec.encode import encode_audio
from aecodec.codec.parse import latent_of, parse_file
from aecodec.coding.peakphase import select_peaks
from aecodec.dsp.audio import Audio, read_audio
from aecodec.format import container
from aecodec.model.reference import load_reference
from aecodec.model.registry import load_model


def compare(audio: Audio, kbps: float, np_model: tuple, torch_model: tuple) -> dict[str, float]:
    a = encode_audio(audio, kbps=kbps, model=np_model).to_bytes()
    b = encode_audio(audio, kbps=kbps, model=torch_model).to_bytes()
    pa, pb = container.unpack(a), container.unpack(b)
    ca = parse_file(pa, name="np", net=np_model[0])[1]
    cb = parse_file(pb, name="torch", net=np_model[0])[1]
    sym_diff = float(np.mean(latent_of(ca)[0] != latent_of(cb)[0]))
    step_diff = float(np.mean([x.step != y.step for x, y in zip(ca, cb)]))
    la = decode_logmag(b, name="np", net=np_model[0])[0]
    lb = decode_logmag(b, name="torch", net=torch_model[0])[0]
    peaks = pb.meta.get("phase", {}).get("peaks", 0)
    pick_diff = 0.0
    if peaks:
        sa, sb = select_peaks(la, count=peaks), select_peaks(lb, count=peaks)
        pick_diff = float(np.mean((sa != sb).any(axis=0)))
    return {"same_bytes": float(a == b), "symbols_differ": sym_diff, "steps_differ": step_diff,
            "logmag_max_diff": float(np.abs(la - lb).max()), "peak_frames_differ": pick_diff,
            "bytes_np": len(a), "bytes_torch": len(b)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("-b", "--bitrate", default="3,6,12")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    np_model = load_model()
    torch_model = load_reference(Path(np_model[1]["path"]))
    print("clip | kbps | same bytes | symbols differ | steps differ | ln-mag max diff | "
          "peak frames differ")
    for clip in args.clips:
        audio = read_audio(clip)
        n = int(args.seconds * audio.rate)
        audio = Audio(audio.samples[:n], audio.rate)
        for kbps in (float(k) for k in args.bitrate.split(",")):
            r = compare(audio, kbps, np_model, torch_model)
            print(f"{clip.name} | {kbps:g} | {'yes' if r['same_bytes'] else 'no'} | "
                  f"{r['symbols_differ']:.2e} | {r['steps_differ']:.3f} | "
                  f"{r['logmag_max_diff']:.2e} | {r['peak_frames_differ']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
