"""The CI slice of the structure-aware fuzz suite (tests/fuzz/aecmut.py): a fixed seed, a few
hundred mutated real files through decode and ``info --verify``, each under a time and memory
cap. The long run: ``python scripts/fuzz_aec.py --cases N --seed S`` (docs/robustness.md)."""

from __future__ import annotations

import random

import pytest

from .conftest import REPO
from .fuzz.aecmut import decode_target, mutate, run_case

SEEDS = [REPO / "tests/data/golden.aec", *sorted((REPO / "tests/data/fuzz").glob("*.aec"))]


@pytest.mark.parametrize("seed", [0])
def test_fuzz_slice_finds_nothing(seed: int) -> None:
    blobs = [p.read_bytes() for p in SEEDS]
    r = random.Random(seed)
    target = decode_target()
    findings = []
    for i in range(100):
        data = mutate(blobs, r)
        res = run_case(target, data, seconds=20, memory_mb=256)
        if res.outcome.startswith("FINDING"):
            findings.append((i, res.outcome))
    assert findings == []


def test_the_harness_reports_what_it_should() -> None:
    """A crash, a hang and a big allocation are findings; an AecError is not."""
    import numpy as np

    from aecodec.errors import FormatError

    def crash(data: bytes) -> None:
        raise ValueError("boom")

    def refuse(data: bytes) -> None:
        raise FormatError("x: refused")

    def hang(data: bytes) -> None:
        while True:
            pass

    def hog(data: bytes) -> None:
        np.ones(40 << 20, np.uint8)

    assert run_case(crash, b"").outcome.startswith("FINDING: ValueError")
    assert run_case(refuse, b"").outcome == "FormatError"
    assert run_case(hang, b"", seconds=0.2).outcome.startswith("FINDING: over")
    assert run_case(hog, b"", memory_mb=16).outcome.startswith("FINDING: 40 MB")


@pytest.mark.parametrize("path", sorted((REPO / "tests/data/fuzz/findings").glob("*.aec")),
                         ids=lambda p: p.name)
def test_past_findings_stay_fixed(path) -> None:  # type: ignore[no-untyped-def]
    """Files the long fuzz runs found (docs/robustness.md): now one AecError each."""
    res = run_case(decode_target(), path.read_bytes())
    assert not res.outcome.startswith("FINDING"), res.outcome
