"""The buffered, half-split Fast Griffin-Lim gives the bits of a plain loop, for any thread
count, and the two-stage pipeline keeps order and errors."""

from __future__ import annotations

import numpy as np
import pytest

from aecodec.codec.pipeline import staged
from aecodec.dsp import workers
from aecodec.dsp.np_griffinlim import griffin_lim
from aecodec.dsp.np_spectral import Overlap, polar, random_phase, unit


def _plain(mag: np.ndarray, phase: np.ndarray, *, length: int, iters: int, momentum: float,
           pinned: np.ndarray, hold: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Fast Griffin-Lim written plainly on np_spectral's Overlap (one array per step)."""
    m = np.ascontiguousarray(mag.transpose(0, 2, 1))
    angles = polar(np.ones((), np.float32), np.ascontiguousarray(phase.transpose(0, 2, 1)))
    fix = unit(pinned.transpose(0, 2, 1))
    m[:, :fix.shape[1]] = np.abs(pinned.transpose(0, 2, 1))
    angles[:, :fix.shape[1]] = fix
    held = hold[0].transpose(0, 2, 1)
    held_angles = polar(np.ones((), np.float32), hold[1].transpose(0, 2, 1))
    angles = np.where(held, held_angles, angles)
    ov = Overlap(n_fft=1024, hop=256, frames=m.shape[1], length=length)
    prev = np.zeros_like(angles)
    scale = np.float32(momentum / (1 + momentum))
    for _ in range(iters):
        rebuilt = ov.stft(ov.istft(m * angles))
        angles = unit(rebuilt - scale * prev if momentum else rebuilt)
        angles = np.where(held, held_angles, angles)
        angles[:, :fix.shape[1]] = fix
        prev = rebuilt
    return (m * angles).transpose(0, 2, 1)


@pytest.mark.parametrize(("frames", "momentum"), [(41, 0.99), (40, 0.0), (3, 0.99)])
def test_same_bits_as_a_plain_loop_for_any_thread_count(frames: int, momentum: float) -> None:
    rng = np.random.default_rng(frames)
    mag = np.exp(rng.standard_normal((2, 513, frames))).astype(np.float32)
    phase = random_phase(mag.shape, seed=3)
    pinned = (mag[:, :, :2] * np.exp(1j * phase[:, :, :2])).astype(np.complex64)
    hold = (rng.random(mag.shape) < 0.05, (rng.random(mag.shape) * 6).astype(np.float32))
    length = (frames - 1) * 256
    want = _plain(mag, phase, length=length, iters=5, momentum=momentum, pinned=pinned,
                  hold=hold)
    got = []
    for n in (1, 2):
        workers.set_count(n)
        try:
            got.append(griffin_lim(mag, n_fft=1024, hop=256, length=length, iters=5,
                                   momentum=momentum, init_phase=phase, pinned=pinned,
                                   hold=hold, return_spec=True))
        finally:
            workers.set_count(None)
    assert np.array_equal(got[0], want) and np.array_equal(got[1], want)


def test_workers_count_is_checked_and_capped() -> None:
    with pytest.raises(ValueError, match="n=0"):
        workers.set_count(0)
    workers.set_count(8)
    try:
        assert workers.count() == workers.MAX_WORKERS
    finally:
        workers.set_count(None)
    assert 1 <= workers.count() <= workers.MAX_WORKERS


def test_staged_keeps_order_and_raises_the_producers_error() -> None:
    def produce(emit):  # type: ignore[no-untyped-def]
        for i in range(50):
            emit(i)
    assert list(staged(produce, depth=2)) == list(range(50))

    def failing(emit):  # type: ignore[no-untyped-def]
        emit(1)
        raise KeyError("chunk 7")
    it = staged(failing)
    assert next(it) == 1
    with pytest.raises(KeyError, match="chunk 7"):
        next(it)


def test_staged_stops_its_producer_when_the_consumer_stops() -> None:
    made: list[int] = []

    def produce(emit):  # type: ignore[no-untyped-def]
        for i in range(10_000):
            made.append(i)
            emit(i)
    it = staged(produce, depth=1)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # joins the producer: it stopped at its next item
    assert len(made) <= 6
    with pytest.raises(ValueError, match="depth=0"):
        next(staged(produce, depth=0))


@pytest.mark.parametrize("n", [1, 2])
def test_run_all_returns_each_result_in_order_and_raises_the_first_error(n: int) -> None:
    workers.set_count(n)
    try:
        assert workers.run_all(lambda: 1, lambda: "two", lambda: [3]) == [1, "two", [3]]

        def fail() -> None:
            raise ValueError("job 2")

        with pytest.raises(ValueError, match="job 2"):
            workers.run_all(lambda: 1, fail)
    finally:
        workers.set_count(None)
