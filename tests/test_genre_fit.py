"""The multi-artist recipe of the genre head: per-file normalisation (measured, not shipped),
artist-capped training, and the shipped classifier's labels in ``classify --help``."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner

from aecodec.cli.main import main
from aecodec.genre.head import HeadConfig, find_classifier, load_classifier, segment_probs
from aecodec.genre.torch_head import save_classifier
from aecodec.train.genre_fit import Item, file_normalise, fit


def _latent(seed: int, frames: int = 200, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(8, frames, generator=g) + shift
    return base + torch.linspace(-1, 1, 8)[:, None] * shift


def test_file_normalise_removes_a_static_offset_and_scale() -> None:
    z = _latent(0)
    quiet = torch.zeros(z.shape[1], dtype=torch.bool)
    moved = z * torch.linspace(0.5, 2.0, 8)[:, None] + torch.linspace(-3, 3, 8)[:, None]
    assert torch.allclose(file_normalise(z, quiet), file_normalise(moved, quiet), atol=1e-4)
    out = file_normalise(z, quiet)
    assert torch.allclose(out.mean(1), torch.zeros(8), atol=1e-5)


def test_fit_learns_two_genres_of_several_artists(tmp_path: Path) -> None:
    items = [Item(Path(f"{lab}{a}{k}.wav"), lab, f"{lab}-artist{a}",
                  _latent(100 * a + k, shift=0.0) * (0.3 if lab == "calm" else 1.5))
             for lab in ("calm", "loud") for a in range(3) for k in range(2)]
    cfg = HeadConfig(channels=8, hidden=16, segment=32, hop=16, silence_threshold=1e-6)
    silence = torch.full((8,), -50.0)
    head = fit(items, ["calm", "loud"], cfg, silence=silence, aug=False, cap=0.05, steps=60,
               seed=0)
    path = save_classifier(head, tmp_path, model_id="t", codec={"id": "c", "sha256": "0" * 64})
    back, _ = load_classifier(path)  # the numpy head inference uses
    assert back.cfg == cfg
    right = sum(int(segment_probs(back, it.clean.numpy(), name="x").mean(0).argmax())
                == ["calm", "loud"].index(it.label) for it in items)
    assert right >= 10


def test_classify_help_lists_the_shipped_labels() -> None:
    head, _ = load_classifier(find_classifier())
    result = CliRunner().invoke(main, ["classify", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert f"labels: {', '.join(head.labels)}" in text
