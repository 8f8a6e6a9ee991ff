"""The cyclic garbage collector while a command starts.

Starting a command imports numpy, click and this package: about 10^5 objects that live until
the process ends, and the collector walks them again and again while they are made (about 12 ms
of a 10-s decode's CPU, and 4 more at exit; counted with callgrind). The CLI turns the
collector off before its imports (:func:`pause`); the file operations turn it back on once their
imports are done and the work begins (:func:`resume`), with everything made so far frozen
(:func:`gc.freeze`: never walked again, exit included). A program that calls the library
directly never pauses, so it is left as it is.
"""

from __future__ import annotations

import gc

_state = {"paused": False}


def pause() -> None:
    """Turn the collector off until :func:`resume` (if it is on)."""
    if gc.isenabled():
        gc.disable()
        _state["paused"] = True


def resume() -> None:
    """Freeze what exists and turn the collector back on, if :func:`pause` turned it off."""
    if _state["paused"]:
        _state["paused"] = False
        gc.freeze()
        gc.enable()
