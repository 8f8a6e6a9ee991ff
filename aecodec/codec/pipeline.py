"""Two-stage pipelining: run a producer in a thread while the caller consumes what it made.

Decoding has two halves that depend on each other only in order: parsing + the decoder net +
Fast Griffin-Lim (chunk by chunk), and resampling + the high band + writing (block by block).
:func:`staged` runs the first in a background thread and hands its items to the caller in the
order they were made, so both halves run at once on two cores and the output is the same as
running them one after the other. At most ``depth`` items wait in between (memory stays
bounded). An exception in the producer is raised in the caller at the point where the
producer raised it; when the caller stops early (an exception, ``close()``), the producer is
stopped at its next item and joined before :func:`staged` returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Stopped(Exception):
    """Raised inside the producer's ``emit`` once the consumer has gone away."""


class _End:
    pass


class _Failed(Generic[T]):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def staged(produce: Callable[[Callable[[T], None]], None], *, depth: int = 4) -> Iterator[T]:
    """Yield what ``produce(emit)`` emits, in order, while it keeps producing in a thread.

    ``depth``: items made but not yet consumed, at most (>= 1)."""
    if depth < 1:
        raise ValueError(f"staged() called with depth={depth} < 1")
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def emit(item: T) -> None:
        while True:
            if stop.is_set():
                raise _Stopped
            try:
                items.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def run() -> None:
        try:
            produce(emit)
            emit(_End())  # type: ignore[arg-type]
        except _Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            try:
                emit(_Failed(exc))  # type: ignore[arg-type]
            except _Stopped:
                return

    worker = threading.Thread(target=run, name="aecodec-stage", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
