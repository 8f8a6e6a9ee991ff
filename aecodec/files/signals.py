"""Signals: SIGTERM and SIGHUP unwind like Ctrl-C, so every temp file is removed.

:func:`catch_signals` turns SIGTERM/SIGHUP into :class:`Interrupted` (a ``KeyboardInterrupt``)
raised in the main thread, so :func:`aecodec.files.atomic.atomic_output` removes its temp file
on every catchable signal, and the CLI exits ``128 + signal``. Worker processes of ``-j``
(:func:`init_worker`) ignore SIGINT (the parent stops them), die with their parent
(``PR_SET_PDEATHSIG`` on Linux) and, on SIGTERM, remove their temp file and exit at once.
SIGKILL cannot be caught: it may leave one ``.NAME.PID.XXXXXXXX.aecpart`` file, which the next
run into that folder removes (:func:`aecodec.files.atomic.clean_stale`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType

CAUGHT = (signal.SIGTERM, signal.SIGHUP)
"""Signals turned into :class:`Interrupted` (SIGINT already raises ``KeyboardInterrupt``)."""


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run: ``signum`` and what was already written (``done`` outputs)."""

    def __init__(self, signum: int = signal.SIGINT, *, done: int = 0, total: int = 0) -> None:
        super().__init__(signum)
        self.signum, self.done, self.total = signum, done, total

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        name = signal.Signals(self.signum).name
        what = "interrupted" if self.signum == signal.SIGINT else f"stopped by {name}"
        if self.total:
            return (f"{what}; {self.done} of {self.total} outputs were complete and are kept, "
                    "no partial output left")
        return f"{what}; no output written"


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def catch_signals() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise :class:`Interrupted` (main thread only);
    the previous handlers are restored after."""
    if sys.platform == "win32":  # no SIGHUP; SIGTERM cannot be caught there
        yield
        return
    old = {s: signal.signal(s, _raise) for s in CAUGHT}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


_busy = False


def _worker_term(signum: int, frame: FrameType | None) -> None:
    if _busy:  # unwind the job: its temp file is removed, then run_job exits the process
        raise Interrupted(signum)
    os._exit(128 + signum)


def init_worker() -> None:
    """Initializer of a ``-j`` worker process (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in CAUGHT:
        signal.signal(s, _worker_term)
    with contextlib.suppress(Exception):  # Linux only: die with the parent, even on SIGKILL
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(128 + signal.SIGTERM)


@contextlib.contextmanager
def job() -> Iterator[None]:
    """Mark a worker busy (a SIGTERM then unwinds the job instead of killing the process);
    an :class:`Interrupted` ends the worker process once the job has cleaned up."""
    global _busy
    _busy = True
    try:
        yield
    except Interrupted as exc:
        os._exit(exc.exit_code)
    finally:
        _busy = False
