"""The collector pause while a command starts (aecodec.files.startup)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from aecodec.files import startup


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    was = gc.isenabled()
    yield
    startup._state["paused"] = False
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_resume_turns_on_only_what_pause_turned_off() -> None:
    gc.enable()
    startup.pause()
    assert not gc.isenabled()
    startup.resume()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    gc.disable()  # a program that runs without the collector
    startup.pause()
    startup.resume()
    assert not gc.isenabled()


def test_commands_run_their_work_with_the_collector_on(tmp_path: object) -> None:
    code = ("import gc, sys\n"
            "from aecodec.cli import main as m\n"
            "import aecodec.files.startup as s\n"
            "paused = not gc.isenabled()\n"
            "sys.argv = ['aecodec', 'info', '--help']\n"
            "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
            "print(paused, gc.isenabled())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-2:] == ["True", "True"]  # paused at import, on once the command ran
