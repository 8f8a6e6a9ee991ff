"""Stereo overhead: how many of a file's bits the stereo stream takes (the stereo image, kind 5,
of new files; the ILD stream, kind 1, of older ones).

    python scripts/stereo_overhead.py CLIPS_DIR [--kbps 3 6 12]

For every stereo file: encode with parametric stereo and with --mono at the same target,
report the ILD stream's kbps (parsed from the chunk payloads), and the inter-channel level
difference error of the decoded stereo file (dB, mean over 16 bands and frames) against the
source, next to the error of the --mono file (which has no level difference at all).
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

from aecodec.bench.metrics import stft_magnitude
from aecodec.codec.decode import decode_audio
from aecodec.codec.encode import encode_audio
from aecodec.coding.stereo import BANDS, band_of_bin
from aecodec.dsp.audio import read_audio
from aecodec.format import container


def ild_kbps(data: bytes, seconds: float) -> float:
    total = 0
    for payload in container.unpack(data).chunks:
        assert payload is not None
        pos = 1
        for _ in range(payload[0]):
            kind, _, n = struct.unpack_from("<BfI", payload, pos)
            pos += 9 + n
            total += (9 + n) if kind in (1, 5) else 0
    return total * 8 / seconds / 1000


def band_ild(x: np.ndarray, rate: int) -> np.ndarray:
    mags = [stft_magnitude(x[:, c], n_fft=1024, hop=256) ** 2 for c in (0, 1)]
    band = band_of_bin(bins=mags[0].shape[0], rate=rate)
    e = [np.stack([m[band == b].sum(axis=0) for b in range(BANDS)]) for m in mags]
    return 10 * np.log10((e[0] + 1e-8) / (e[1] + 1e-8))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("clips", type=Path)
    p.add_argument("--kbps", type=float, nargs="+", default=[3.0, 6.0, 12.0])
    a = p.parse_args()
    print("| file | target kbps | stereo kbps | ILD kbps | ILD share | ILD error dB (stereo) "
          "| ILD error dB (--mono) |\n|---|---|---|---|---|---|---|")
    for f in sorted(a.clips.glob("*.wav")):
        audio = read_audio(f)
        if audio.channels != 2:
            continue
        ref = band_ild(audio.samples, audio.rate)
        loud = ref != 0
        for kbps in a.kbps:
            st = encode_audio(audio, kbps=kbps).to_bytes()
            mo = encode_audio(audio, kbps=kbps, mono=True).to_bytes()
            errs = []
            for data in (st, mo):
                out, rate, _ = decode_audio(data)
                got = band_ild(out, rate)
                n = min(got.shape[1], ref.shape[1])
                errs.append(float(np.abs(got[:, :n] - ref[:, :n])[loud[:, :n]].mean()))
            total = len(st) * 8 / audio.duration / 1000
            ild = ild_kbps(st, audio.duration)
            print(f"| {f.name} | {kbps:g} | {total:.2f} | {ild:.2f} | {ild / total:.0%} | "
                  f"{errs[0]:.1f} | {errs[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
