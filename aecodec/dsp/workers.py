"""Compute threads inside one process: a small pool that runs independent halves of a job.

Decoding splits its Fast Griffin-Lim into fixed halves (:mod:`aecodec.dsp.np_griffinlim`);
with ``count() >= 2`` they run on two threads of this pool (numpy and pocketfft release the
GIL), with 1 in turn - the same arithmetic either way, so the output does not depend on the
count. The count defaults to the cores this process may use, at most 2 (two halves); the CLI's
``--threads`` and :func:`aecodec.files.ops.set_threads` set it (``-j`` workers use 1 each).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
MAX_WORKERS = 2
_state: dict[str, object] = {"count": None, "pool": None}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_count(n: int | None) -> None:
    """Threads for split work: ``n`` (capped at :data:`MAX_WORKERS`), None for the default."""
    if n is not None and n < 1:
        raise ValueError(f"set_count() called with n={n} < 1")
    _state["count"] = None if n is None else min(int(n), MAX_WORKERS)


def count() -> int:
    """Threads split work runs on now (1 or 2)."""
    n = _state["count"]
    return min(_cores(), MAX_WORKERS) if n is None else int(n)  # type: ignore[call-overload]


def run_each(step: Callable[[T], None], items: Iterable[T]) -> None:
    """``step(item)`` for every item: on the pool when :func:`count` > 1, else in turn. The
    first exception raised by a step is raised here (after all steps ended)."""
    items = list(items)
    if count() < 2 or len(items) < 2:
        for item in items:
            step(item)
        return
    pool = _state["pool"]
    if pool is None:
        pool = _state["pool"] = ThreadPoolExecutor(max_workers=MAX_WORKERS,
                                                   thread_name_prefix="aecodec")
    assert isinstance(pool, ThreadPoolExecutor)
    futures = [pool.submit(step, item) for item in items[1:]]
    error: BaseException | None = None
    try:
        step(items[0])
    except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others end
        error = exc
    for f in futures:
        exc2 = f.exception()
        if error is None and exc2 is not None:
            error = exc2
    if error is not None:
        raise error


def run_all(*jobs: Callable[[], T]) -> list[T]:
    """Each job's result, in order; the jobs run as :func:`run_each`'s steps (on the pool when
    :func:`count` > 1, else in turn; the first exception is raised after all ended)."""
    out: list[Any] = [None] * len(jobs)

    def step(i: int) -> None:
        out[i] = jobs[i]()

    run_each(step, range(len(jobs)))
    return out
