"""Genre classification on the codec's latent: segment features, a small head, file-level vote.

A file's latent ``[latent, frames]`` (from audio through the frozen encoder, or dequantized
straight from a ``.aec`` file) is cut into segments of ``segment`` frames every ``hop`` frames
(defaults 64/32 = 2.97 s every 1.49 s at 21.5 latent frames/s). The head normalises each
channel, applies a 1x1 and a dilated kernel-3 convolution, pools mean and standard deviation
over time and maps them to label logits; the file's probabilities are the mean of its segments'
(probability voting). Near-silent segments are skipped; a file with none left is refused.

A classifier file is a ``.npz`` without pickle (:mod:`aecodec.model.npz_weights`, kind
``"aecodec-classifier"``), named ``<model_id>-<sha256[:12]>.npz`` and verified like codec
weights; its JSON header holds ``labels``, ``config`` (:class:`HeadConfig`), ``codec`` ({"id",
"sha256"}: the codec model it was trained on) and ``info``. The head runs in numpy
(:class:`aecodec.model.np_nets.NpGenreHead`); the torch head that trains it is in
:mod:`aecodec.genre.torch_head`.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aecodec.dsp.audio import Audio, mixdown
from aecodec.dsp.np_spectral import log_magnitude
from aecodec.dsp.resample import resample
from aecodec.errors import AecError, InputError, ModelError
from aecodec.format.hashed import HASH_CHARS
from aecodec.model.np_nets import Net, NpGenreHead
from aecodec.model.npz_weights import CLASSIFIER_KIND, load_npz, model_dirs

DEFAULT_CLASSIFIER_ID = "aecodec-genres"
POOLED = "pooled"
"""``config["type"]`` of a pooled classifier (:mod:`aecodec.genre.pooled`); a head's config
has no ``type``."""
SEGMENT_BATCH = 128
"""Segments the head sees at once (the head's activations are per batch)."""


@dataclass(frozen=True)
class HeadConfig:
    """Head settings. Defaults: 64 latent channels in, 96 hidden, segments of 64 latent frames
    (2.97 s) every 32, dropout 0.2. A latent frame is silent when its mean squared distance to
    the codec's latent of digital silence is below ``silence_threshold`` (training sets it to
    2 % of the training latents' mean channel variance)."""

    channels: int = 64
    hidden: int = 96
    segment: int = 64
    hop: int = 32
    dropout: float = 0.2
    silence_threshold: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segment_starts(frames: int, *, segment: int, hop: int) -> list[int]:
    """Start frames of the segments covering ``frames`` (the last one flush with the end)."""
    if frames < segment:
        return []
    starts = list(range(0, frames - segment + 1, hop))
    if starts[-1] + segment < frames:
        starts.append(frames - segment)
    return starts


def silent_frames(latent: np.ndarray, silence: np.ndarray, *, threshold: float,
                  step: np.ndarray | None = None) -> np.ndarray:
    """Bool ``[frames]``: frames of ``latent [C, frames]`` near the silence latent ``[C]``
    (quantized with each frame's ``step [frames]`` first when it came from a ``.aec`` file)."""
    ref = silence[:, None]
    if step is not None:
        ref = np.clip(np.round(ref / step[None]), -127, 127) * step[None]
    return ((latent - ref) ** 2).mean(0) < threshold


def segment_probs(head: NpGenreHead, latent: np.ndarray, *, name: str,
                  step: np.ndarray | None = None,
                  frame_seconds: float = 1024 / 22050) -> np.ndarray:
    """Label probabilities ``[segments, labels]`` of the non-silent segments of ``latent
    [C, frames]`` (``step [frames]``: the quantizer steps if it came from a ``.aec`` file).
    The file's probabilities are their mean (probability voting)."""
    cfg = head.cfg
    frames = int(latent.shape[-1])
    starts = segment_starts(frames, segment=cfg.segment, hop=cfg.hop)
    if not starts:
        raise InputError(f"{name}: too short to classify ({frames * frame_seconds:.2f} s; "
                         f"one segment needs {cfg.segment * frame_seconds:.2f} s)")
    quiet = silent_frames(latent, head.silence, threshold=cfg.silence_threshold, step=step)
    starts = [s for s in starts if quiet[s:s + cfg.segment].mean() < 0.5]
    if not starts:
        raise InputError(f"{name}: no music to classify (silent or nearly so)")
    out = []  # in batches: the head's activations do not grow with the file's length
    for i in range(0, len(starts), SEGMENT_BATCH):
        segs = np.stack([latent[:, s:s + cfg.segment] for s in starts[i:i + SEGMENT_BATCH]])
        out.append(head.probs(segs))
    return np.concatenate(out)


def audio_latent(audio: Audio, net: Net) -> np.ndarray:
    """The codec encoder's latent ``[latent, frames]`` of ``audio`` (the same front end as
    :func:`aecodec.codec.encode.encode_audio`: mono mix-down, resampling, ln|STFT|)."""
    st = net.cfg.stft
    x = resample(mixdown(audio.samples), orig_rate=audio.rate, new_rate=st.rate)
    logmag = log_magnitude(np.ascontiguousarray(x)[None], n_fft=st.n_fft, hop=st.hop)
    return net.encode(logmag)[0]


def load_classifier(path: Path) -> tuple[Any, dict[str, Any]]:
    """Load and verify a classifier file -> (numpy head, or a
    :class:`aecodec.genre.pooled.PooledClassifier` when its config's ``type`` is ``"pooled"``;
    its header with ``sha256`` and ``path``).

    :class:`ModelError` if it is missing, its hash does not match its name, or its labels,
    configuration and weights do not fit together.
    """
    path = Path(path)
    header, state = load_npz(path, kind=CLASSIFIER_KIND)
    labels = header.get("labels")
    if (not isinstance(labels, list) or len(labels) < 2 or len(set(labels)) != len(labels)
            or not all(isinstance(x, str) and x for x in labels)):
        raise ModelError(f"{path}: bad label list {labels!r}")
    codec = header.get("codec")
    if not isinstance(codec, dict) or not all(isinstance(codec.get(k), str)
                                              for k in ("id", "sha256")):
        raise ModelError(f"{path}: does not name the codec model it was trained on")
    try:
        head: Any
        if isinstance(header.get("config"), dict) and header["config"].get("type") == POOLED:
            from aecodec.genre.pooled import PooledClassifier
            head = PooledClassifier(header["config"], labels, state)
        else:
            head = NpGenreHead(HeadConfig(**header["config"]), labels, state)
    except Exception as exc:  # noqa: BLE001 - labels/config/weights that do not fit together
        raise ModelError(f"{path}: labels, configuration and weights do not match "
                         f"({len(labels)} labels; {type(exc).__name__})") from None
    return head, header


def find_classifier(spec: str | Path | None = None) -> Path:
    """The classifier file for ``spec``: a path; a path without its ``-<sha12>`` suffix
    (``models/my-genres.npz``); a model id looked up in the model folders; or, for ``None``,
    the default ``aecodec-genres``. Among several, the newest trained on an installed codec
    model wins."""
    if spec is not None and Path(spec).is_file():
        return Path(spec)
    p = Path(spec) if spec is not None else Path(DEFAULT_CLASSIFIER_ID)
    stem = p.stem if p.suffix == ".npz" else p.name
    folders = [p.parent] if str(p.parent) not in ("", ".") else []
    folders += model_dirs() if len(p.parts) == 1 else []
    hits = [h for d in folders if d.is_dir() for h in sorted(d.glob(f"{stem}-*.npz"))
            if re.fullmatch(rf"{re.escape(stem)}-[0-9a-f]{{12}}", h.stem)]
    if not hits:
        where = ", ".join(str(d) for d in folders)
        raise ModelError(f"classifier {spec or DEFAULT_CLASSIFIER_ID} not found (looked in {where})")
    usable = [h for h in hits if _codec_installed(h)]  # prefer one whose codec is installed
    return max(usable or hits, key=lambda h: h.stat().st_mtime)


def _codec_installed(path: Path) -> bool:
    import json

    from aecodec.model.npz_weights import find_npz
    try:
        with np.load(path, allow_pickle=False) as z:
            codec = json.loads(bytes(z["header"]).decode())["codec"]
        find_npz(codec["id"], sha_prefix=codec["sha256"][:16], dirs=model_dirs())
    except Exception:  # noqa: BLE001 - unreadable, or its codec is not installed
        return False
    return True


def file_latent(path: Path, codec: dict[str, str], *, layers: dict[str, Any] | None = None
                ) -> tuple[np.ndarray, np.ndarray | None, float]:
    """The latent ``[C, frames]`` of an audio or ``.aec`` file for a classifier trained on the
    codec model ``codec`` ({"id", "sha256"}), the quantizer step of each frame (``[frames]``;
    None for audio) and the seconds per latent frame. A ``.aec`` file is read straight to its
    dequantized latent (no decoding). ``layers``: for a ``.aec`` file it gets ``"meta"`` (the
    file's metadata) and ``"chunks"`` (per chunk, its high-band envelope and stereo image
    symbols: :func:`aecodec.codec.parse.stream_latent`); for audio it stays empty."""
    from aecodec.format.container import MAGIC
    from aecodec.format.meta import read_meta
    from aecodec.model.registry import load_model, model_for
    name = str(path)
    try:
        with open(path, "rb") as f:
            is_aec = f.read(len(MAGIC)) == MAGIC
    except OSError:
        is_aec = False  # open_audio names the problem
    if is_aec:
        meta, _ = read_meta(path)  # refused before any model loads
        mod = meta["model"]
        if mod["id"] != codec["id"] or not codec["sha256"].startswith(mod["sha256"]):
            raise ModelError(f"{name}: encoded with codec model {mod['id']}@{mod['sha256'][:12]},"
                             f" but the classifier was trained on {codec['id']}@"
                             f"{codec['sha256'][:12]}")
        with open(path, "rb") as f:
            return _stream_latent(f, name=name, net=model_for(meta, name=name), layers=layers)
    from aecodec.dsp.audio import iter_blocks, open_audio
    with open_audio(path) as audio:  # refused before any model loads
        try:
            net, mmeta = load_model(codec["id"], codec["sha256"][:HASH_CHARS])
        except ModelError as exc:
            raise ModelError(f"the classifier needs codec model {codec['id']}@"
                             f"{codec['sha256'][:12]}: {exc}") from None
        # classify exactly the latent a default encode would store, so that a WAV and its .aec
        # (at any bitrate from 1.5 kbps: the base layer's budget is the same) agree; streamed
        # chunk by chunk (the base layer alone is ~0.5 kbps), so memory does not grow with length
        from aecodec.codec.encode import DEFAULT_KBPS, encode_blocks
        buf = io.BytesIO()
        encode_blocks(iter_blocks(audio, name=name), buf, rate=int(audio.samplerate),
                      channels=audio.channels, length=int(audio.frames), kbps=DEFAULT_KBPS,
                      model=(net, mmeta), enhance=False)
    buf.seek(0)
    return _stream_latent(buf, name=name, net=net)


def _stream_latent(f: Any, *, name: str, net: Net, layers: dict[str, Any] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    from aecodec.codec.parse import stream_latent
    chunks: list[tuple[Any, Any]] | None = [] if layers is not None else None
    m, latent, steps = stream_latent(f, name=name, net=net, layers=chunks)
    if layers is not None:
        layers.update(meta=m, chunks=chunks)
    return latent, steps, m["frames"] / m["latent"][1] * m["hop"] / m["model_rate"]


def classify_file(path: Path, *, head: Any, meta: dict[str, Any],
                  top: int = 3) -> dict[str, Any]:
    """The genre of one audio or ``.aec`` file with a loaded classifier (:func:`load_classifier`):
    ``{"file", "label", "probability", "top": [{"label", "probability"}, ...], "input"}``,
    the segment probabilities averaged over the file."""
    from aecodec.genre.pooled import PooledClassifier, classify_pooled
    if isinstance(head, PooledClassifier):
        return classify_pooled(path, clf=head, meta=meta, top=top)
    latent, step, frame_s = file_latent(path, meta["codec"])
    if latent.shape[0] != head.cfg.channels:
        raise AecError(f"{path}: latent has {latent.shape[0]} channels, "
                       f"the classifier expects {head.cfg.channels}")
    probs = segment_probs(head, latent, name=str(path), step=step, frame_seconds=frame_s).mean(0)
    order = np.argsort(-probs, kind="stable")[:top].tolist()
    best = [{"label": head.labels[i], "probability": round(float(probs[i]), 4)} for i in order]
    return {"file": str(path), "label": best[0]["label"], "probability": best[0]["probability"],
            "top": best, "input": "aec" if Path(path).suffix.lower() == ".aec" else "audio"}
