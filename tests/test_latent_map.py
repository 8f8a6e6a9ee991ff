"""scripts/latent_map.py: the PCA and segment helpers (the pictures are made in docs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "latent_map", Path(__file__).resolve().parents[1] / "scripts" / "latent_map.py")
assert _spec and _spec.loader
lm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lm)


def test_pca_finds_the_planted_axes() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 6)) * 0.1
    x[:, 2] += rng.standard_normal(500) * 10  # two strong directions (after standardising,
    x[:, 4] += x[:, 2] * 0.5                   # correlated columns 2 and 4 dominate)
    pts, explained, axes = lm.pca_2d(x)
    assert pts.shape == (500, 2) and axes.shape == (2, 6)
    assert explained[0] > 0.3 and explained.sum() <= 1.0
    assert set(np.argsort(-np.abs(axes[0]))[:2]) == {2, 4}
    assert np.allclose(np.linalg.norm(axes, axis=1), 1.0)


def test_segments_skip_silence_and_centroids() -> None:
    z = np.arange(4 * 200, dtype=np.float32).reshape(4, 200)
    quiet = np.zeros(200, bool)
    quiet[:96] = True  # the first segments are mostly silent
    v = lm.segment_vectors(z, quiet)
    starts = [s for s in (0, 32, 64, 96, 128, 136) if quiet[s:s + 64].mean() < 0.5]
    assert v.shape == (len(starts), 4) and np.allclose(v[:, 0], [s + 31.5 for s in starts])
    x = np.array([[0.0, 0], [0.1, 0], [5, 5], [5.1, 5], [0.2, 0.1]])
    assert lm.centroid_accuracy(x, np.array(["a", "a", "b", "b", "b"])) == 0.8
    assert list(lm.strongest(np.array([1.0, 10.0, 0.1, 5.0]), share=0.9)) == [1, 3]
