"""aecodec: a neural audio codec for music.

The public API (paths as ``str`` or ``PathLike``; audio as numpy ``[samples]`` or
``[samples, channels]``)::

    import aecodec
    aecodec.encode_file("song.wav", "song.aec", kbps=6)    # any audio file -> .aec
    aecodec.decode_file("song.aec", "out.wav")             # .aec -> WAV
    data = aecodec.encode(audio, 44100, kbps=6)            # numpy -> bytes
    audio, rate = aecodec.decode(data)                     # bytes -> numpy [samples, channels]
    aecodec.classify("song.aec")["label"]                  # genre, from the latent
    aecodec.info("song.aec")["kbps"]                       # actual bitrate
    except aecodec.AecError as e: ...                      # every user-caused failure

What runs on encode: ``dsp`` (read, resample, STFT) -> ``model`` (encoder net) -> ``codec``
(chunks, rate control, layers) -> ``coding`` (quantizer, ANS / zstd, residual, side layers)
-> ``format`` (container bytes). On decode the same in reverse, with Fast Griffin-Lim
(``dsp.np_spectral``) restoring phase. The networks run in numpy: nothing here imports torch,
which only ``train`` (and the torch reference nets, ``pip install '.[train]'``) need.
``classify``, ``bench`` and ``train`` sit beside the pipeline; nothing in it imports them.
Importing this package is light: names are resolved on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = ("encode", "decode", "encode_file", "decode_file", "classify", "info")
__all__ = ["AecError", "__version__", "classify", "decode", "decode_file", "encode", "encode_file",
           "info"]

if TYPE_CHECKING:
    from aecodec.api import classify, decode, decode_file, encode, encode_file, info
    from aecodec.errors import AecError


def __getattr__(name: str) -> Any:
    if name in _API:
        from aecodec import api

        return getattr(api, name)
    if name == "AecError":
        from aecodec.errors import AecError

        return AecError
    raise AttributeError(f"module 'aecodec' has no attribute {name!r}")
