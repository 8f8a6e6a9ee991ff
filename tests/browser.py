"""A headless Chromium driven over the DevTools protocol on a pipe (no websocket, no library).

``--remote-debugging-pipe`` makes Chromium read JSON commands, each ending in a NUL byte, from
its file descriptor 3 and write replies and events to descriptor 4. :class:`Browser` opens one
page, records every script exception, console error and failed load, and evaluates JavaScript.

    python -m tests.browser report.html shot.png   # load a page, print its status, screenshot
                                                   # (of the window: 1280 x 1600)
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """Path of a Chromium-family browser on PATH, or None."""
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


class Browser:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, exe: str, *, width: int = 1280, height: int = 1600) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="aec-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # above 10, so that moving them onto 3 and 4 cannot overwrite one with the other
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_chrome_r, from_chrome_w)]
        quiet = os.devnull
        # posix_spawn, not subprocess with preexec_fn (unsafe beside torch's threads)
        self.pid = os.posix_spawn(exe, [exe, *FLAGS, f"--user-data-dir={self._profile.name}",
                                        "--remote-debugging-pipe",
                                        f"--window-size={width},{height}", "about:blank"],
                                  os.environ, file_actions=[
                                      (os.POSIX_SPAWN_OPEN, 0, quiet, os.O_RDONLY, 0),
                                      (os.POSIX_SPAWN_OPEN, 1, quiet, os.O_WRONLY, 0),
                                      (os.POSIX_SPAWN_OPEN, 2, quiet, os.O_WRONLY, 0),
                                      (os.POSIX_SPAWN_DUP2, ends[0], 3),
                                      (os.POSIX_SPAWN_DUP2, ends[1], 4)])
        for fd in (to_chrome_r, from_chrome_w, *ends):
            os.close(fd)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def __enter__(self) -> Browser:  # noqa: PYI034 (3.10 has no typing.Self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.session = ""
            self.call("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def _read(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                return None
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, *, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one command (to the page once attached) and return its result."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(max(0.0, deadline - time.monotonic()))
            if reply is None:
                raise TimeoutError(f"no reply to {method} within {timeout} s")
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            msg = self._read(left)
            if msg and "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression (JSON-serialisable results only)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def open(self, url: str, *, timeout: float = 30.0) -> None:
        """Navigate and wait for the load event."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load within {timeout} s")
            self.pump(0.1)

    def wait_for(self, expression: str, *, timeout: float = 30.0) -> bool:
        """Poll a JavaScript condition until it is true or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            self.pump(0.2)
        return False

    def key(self, key: str) -> None:
        """Press and release one printable key (a real keyboard event)."""
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, text=key if
                      kind == "keyDown" else "")

    def problems(self) -> list[str]:
        """Script exceptions, console errors and failed loads seen so far."""
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')} "
                           f"{p['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')[:80]}")
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                out.append(f"load failed: {p.get('errorText')}")
        return out

    def screenshot(self, path: Path, *, full: bool = True) -> None:
        """PNG of the page (all of it, or the window's view when not ``full``)."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=full,
                         timeout=120)
        path.write_bytes(base64.b64decode(data["data"]))


def main() -> None:
    exe = find_browser()
    if exe is None:
        sys.exit("no Chromium-family browser on PATH (apt-get install chromium)")
    page, shot = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    with Browser(exe) as b:
        b.open(page.as_uri())
        ok = b.wait_for("document.getElementById('status').dataset.ready === "
                        "document.getElementById('status').dataset.total")
        print(b.evaluate("document.getElementById('status').textContent"), "ok" if ok else "")
        print("\n".join(b.problems()) or "no problems logged")
        b.screenshot(shot, full=False)


if __name__ == "__main__":
    main()
