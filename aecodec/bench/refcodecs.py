"""Reference codecs to benchmark against: Opus and MP3 (external tools) and a block-DCT codec.

Each ``run_*`` function takes mono float audio ``[samples]`` at ``rate`` and returns a
:class:`RefResult` holding the compressed size and the decoded audio, resampled back to
``rate`` but *not* aligned (lame leaves its encoder delay in; use
:func:`aecodec.bench.metrics.align`). Bit rates are always measured from the compressed size,
never taken from the nominal setting: Opus VBR overshoots on music.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aecodec.coding.residual import decode_dct, encode_dct
from aecodec.dsp.audio import fit_length, mixdown, read_audio, write_wav
from aecodec.dsp.np_griffinlim import griffin_lim
from aecodec.dsp.np_spectral import log_magnitude, magnitude_from_log
from aecodec.dsp.resample import resample
from aecodec.errors import AecError

DCT_RATE, DCT_N_FFT, DCT_HOP = 22050, 1024, 256
"""STFT settings of the DCT reference codec."""
MP3_CBR_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320)
"""Constant bit rates lame accepts (over MPEG-1, -2 and -2.5 layer III)."""
OPUS_KBPS_RANGE = (4.0, 256.0)
"""Range searched for ``opusenc --bitrate`` (documented as 6-256 per channel, but settings down
to about 5 still lower the rate; Opus bottoms out near 6 kbps actual on music)."""
DCT_SCALE_RANGE = (0.02, 100.0)
"""Quantiser scales searched by :func:`run_at_bitrate` (a few hundred kbit/s down to < 0.5)."""
TOOL_TIMEOUT_S = 300


@dataclass(frozen=True)
class RefResult:
    """Output of one reference-codec run.

    Attributes
    ----------
    name : str
        ``"opus"``, ``"mp3"``, ``"dct"`` or ``"dct8"``.
    setting : str
        The codec setting used, e.g. ``"--bitrate 6"`` or ``"scale=0.5"``.
    nbytes : int
        Size of the compressed stream (whole file for Opus and MP3).
    audio : np.ndarray
        Decoded mono float32 ``[samples]`` at the input rate, not aligned.
    """

    name: str
    setting: str
    nbytes: int
    audio: np.ndarray


def actual_kbps(nbytes: int, *, samples: int, rate: int) -> float:
    """Bit rate in kbit/s of ``nbytes`` for ``samples`` samples at ``rate``."""
    return nbytes * 8 / (samples / rate) / 1000


def available() -> dict[str, bool]:
    """Which codecs can run here: ``{"opus": ..., "mp3": ..., "dct": True, "dct8": True}``.

    ``dct`` is the reference as the rate-distortion issue specifies it (int16 coefficients);
    ``dct8`` the same codec with int8 coefficients where they fit, the layout aecodec's
    residual layer uses, so a comparison can hold the entropy coding equal."""
    return {
        "opus": bool(shutil.which("opusenc") and shutil.which("opusdec")),
        "mp3": shutil.which("lame") is not None,
        "dct": True,
        "dct8": True,
    }


def _run(cmd: list[str]) -> None:
    """Run an external tool; any failure becomes a one-line :class:`AecError`."""
    if shutil.which(cmd[0]) is None:
        raise AecError(f"{cmd[0]} not found on PATH (install opus-tools / lame)")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise AecError(f"{cmd[0]} timed out after {TOOL_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise AecError(f"{cmd[0]} failed (exit {proc.returncode}): {lines[-1] if lines else ''}")


def _external(name: str, setting: str, x: np.ndarray, *, rate: int,
              encode: Callable[[str, str], list[str]],
              decode: Callable[[str, str], list[str]], suffix: str) -> RefResult:
    """Write ``x`` as 16-bit WAV, encode, decode, read back and resample to ``rate``."""
    with tempfile.TemporaryDirectory(prefix="aec-ref-") as tmp:
        src, enc, dec = (os.path.join(tmp, n) for n in ("in.wav", "enc" + suffix, "out.wav"))
        write_wav(src, mixdown(x), rate=rate, subtype="PCM_16")
        _run(encode(src, enc))
        nbytes = os.path.getsize(enc)
        _run(decode(enc, dec))
        out = read_audio(dec, name=f"{name} output")
    audio = resample(mixdown(out.samples), orig_rate=out.rate, new_rate=rate)
    return RefResult(name=name, setting=setting, nbytes=nbytes, audio=audio)


def run_opus(x: np.ndarray, *, rate: int, kbps: float) -> RefResult:
    """Opus (VBR, ``opusenc --bitrate kbps``) round trip, decoded at 48 kHz then resampled."""
    return _external(
        "opus", f"--bitrate {kbps:.4g}", x, rate=rate, suffix=".opus",
        encode=lambda i, o: ["opusenc", "--quiet", "--bitrate", f"{kbps:.4f}", i, o],
        decode=lambda i, o: ["opusdec", "--quiet", "--rate", "48000", i, o])


def run_mp3(x: np.ndarray, *, rate: int, kbps: int) -> RefResult:
    """MP3 CBR mono (``lame -b kbps -m m``; lame picks its own sample rate) round trip."""
    if kbps not in MP3_CBR_KBPS:
        raise ValueError(f"run_mp3() called with kbps={kbps}, not one of {MP3_CBR_KBPS}")
    return _external(
        "mp3", f"-b {kbps}", x, rate=rate, suffix=".mp3",
        encode=lambda i, o: ["lame", "--quiet", "-b", str(kbps), "-m", "m", i, o],
        decode=lambda i, o: ["lame", "--quiet", "--decode", i, o])


def _dct_logmag(x: np.ndarray, *, rate: int) -> np.ndarray:
    """``ln(|STFT| + 1e-5)`` ``[513, frames]`` of ``x`` resampled to 22050 Hz."""
    y = resample(mixdown(x), orig_rate=rate, new_rate=DCT_RATE)
    spec = log_magnitude(np.ascontiguousarray(y, np.float32)[None], n_fft=DCT_N_FFT, hop=DCT_HOP)
    return spec[0]


def _dct_result(data: bytes, *, samples: int, rate: int, setting: str,
                name: str = "dct") -> RefResult:
    """Decode a DCT stream with Griffin-Lim and resample it back to ``rate``."""
    length = math.ceil(samples * DCT_RATE / rate)
    mag = magnitude_from_log(decode_dct(data)[None])
    y = griffin_lim(mag, n_fft=DCT_N_FFT, hop=DCT_HOP, length=length, iters=32, momentum=0.99,
                    seed=0)[0]
    audio = fit_length(resample(y, orig_rate=DCT_RATE, new_rate=rate), samples)
    return RefResult(name=name, setting=setting, nbytes=len(data), audio=audio)


def run_dct(x: np.ndarray, *, rate: int, quality: float) -> RefResult:
    """Block-DCT reference codec (:mod:`aecodec.coding.residual`) with Griffin-Lim phase.

    ``quality`` is the quantiser step scale given to :func:`~aecodec.coding.residual.encode_dct`:
    larger is coarser and smaller. ``nbytes`` includes the 16-byte stream header.
    """
    data = encode_dct(_dct_logmag(x, rate=rate), scale=quality)
    return _dct_result(data, samples=len(x), rate=rate, setting=f"scale={quality:.4g}")


def _bisect(size_at: Callable[[float], int], target: float, *, lo: float, hi: float,
            rising: bool, tol: float, steps: int) -> float:
    """Setting in ``[lo, hi]`` whose size is nearest ``target``.

    ``size_at`` must grow with the setting (``rising``) or shrink with it. Bisects in log
    space, stopping early once the size is within ``tol`` (relative); the range ends are
    tried last, in case the target lies beyond them.
    """
    best, best_err = lo, math.inf
    for _ in range(steps):
        mid = math.sqrt(lo * hi)
        size = size_at(mid)
        err = abs(size - target) / target
        if err < best_err:
            best, best_err = mid, err
        if err <= tol:
            return best
        if (size < target) == rising:
            lo = mid
        else:
            hi = mid
    for edge in (lo, hi):
        err = abs(size_at(edge) - target) / target
        if err < best_err:
            best, best_err = edge, err
    return best


def run_at_bitrate(codec: str, x: np.ndarray, *, rate: int, kbps: float,
                   tol: float = 0.1) -> RefResult:
    """Run ``codec`` at the setting whose *actual* bit rate comes nearest ``kbps``.

    Opus: bisects ``--bitrate`` (VBR overshoots on music). MP3: tries the CBR rates near the
    target and keeps the nearest. DCT: bisects the quantiser scale on the encoder alone.
    Bisection stops early once within ``tol / 4`` (relative), so that the result lands well
    inside ``tol`` where the codec can reach it; the nearest setting seen is used.
    """
    if not kbps > 0:
        raise ValueError(f"run_at_bitrate() called with kbps={kbps} <= 0")
    target = kbps * 1000 / 8 * len(x) / rate
    if codec in ("dct", "dct8"):
        logmag = _dct_logmag(x, rate=rate)
        narrow = codec == "dct8"
        lo, hi = DCT_SCALE_RANGE
        scale = _bisect(lambda s: len(encode_dct(logmag, scale=s, narrow=narrow)), target,
                        lo=lo, hi=hi, rising=False, tol=tol / 4, steps=30)
        return _dct_result(encode_dct(logmag, scale=scale, narrow=narrow), samples=len(x),
                           rate=rate, setting=f"scale={scale:.4g}", name=codec)
    if codec == "opus":
        cache: dict[float, RefResult] = {}

        def opus_size(k: float) -> int:
            if k not in cache:
                cache[k] = run_opus(x, rate=rate, kbps=k)
            return cache[k].nbytes

        lo, hi = OPUS_KBPS_RANGE
        return cache[_bisect(opus_size, target, lo=lo, hi=hi, rising=True, tol=tol / 4,
                             steps=12)]
    if codec == "mp3":
        nearest = sorted(MP3_CBR_KBPS, key=lambda k: abs(math.log(k / kbps)))[:3]
        runs = [run_mp3(x, rate=rate, kbps=k) for k in nearest]
        return min(runs, key=lambda r: abs(r.nbytes - target))
    raise ValueError(f"run_at_bitrate() called with codec={codec!r}, not 'opus', 'mp3', 'dct' "
                     "or 'dct8'")
