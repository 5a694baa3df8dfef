"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (tests only).

Chromium reads commands from fd 3 and writes replies/events to fd 4, each message a JSON text
terminated by a NUL byte. No port, no websocket, nothing on the network.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from reports._pdf import CHROMIUM_FLAGS, find_chromium

_RECT = """(() => {{ const e = document.querySelector({sel!r});
  if (!e) return null; const r = e.getBoundingClientRect();
  return [r.top, r.bottom, r.left, r.right]; }})()"""


def page_problems(events: list[dict[str, Any]], page: str) -> list[Any]:
    """Console errors, page exceptions and requests other than ``page`` or data: URLs."""
    problems: list[Any] = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            problems.append(params)
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(params["entry"])
        elif method == "Runtime.exceptionThrown":
            problems.append(params)
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page and not url.startswith("data:"):
                problems.append(url)
    return problems


class CDPError(RuntimeError):
    pass


class Browser:
    """Headless Chromium driven over the DevTools pipe; collects every event it receives."""

    def __init__(self, *, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.TemporaryDirectory(prefix="s2f-cdp-", ignore_cleanup_errors=True)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # in the child: its fd 3 reads commands, fd 4 writes replies
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # dup2 clears close-on-exec: only 3 and 4 survive exec
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [
                str(find_chromium()),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile.name}",
                "--remote-debugging-pipe",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--window-size=1200,1600",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # every other fd is close-on-exec (Python's default)
            preexec_fn=wire_fds,
        )
        os.close(to_child_r)
        os.close(from_child_w)

    # -- protocol -----------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        wanted = self._next_id
        deadline = time.monotonic() + self.timeout
        while True:
            for reply in self._read(deadline):
                if reply.get("id") == wanted:
                    if "error" in reply:
                        raise CDPError(f"{method}: {reply['error']}")
                    return reply.get("result", {})

    def _read(self, deadline: float) -> list[dict[str, Any]]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CDPError("timed out waiting for Chromium")
        ready, _, _ = select.select([self._from_child], [], [], left)
        if not ready:
            raise CDPError("timed out waiting for Chromium")
        chunk = os.read(self._from_child, 1 << 20)
        if not chunk:
            raise CDPError("Chromium closed the DevTools pipe")
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        parsed = [json.loads(m) for m in messages if m]
        self.events.extend(m for m in parsed if "method" in m)
        return parsed

    def wait_for(self, method: str, session: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and (
                    session is None or event.get("sessionId") == session
                ):
                    return event
            seen = len(self.events)
            self._read(deadline)

    def close(self) -> None:
        try:  # graceful: Chromium closes its children and profile files itself
            self.send("Browser.close")
        except (CDPError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self._profile.cleanup()

    # -- one page -----------------------------------------------------------------------
    def navigate(
        self,
        path: Path,
        *,
        viewport: tuple[int, int] | None = None,
        bypass_csp: bool = False,
    ) -> str:
        """Open ``path`` offline in a new tab and wait for its load event; return the session.

        ``viewport`` (width, height) fixes the window size in CSS pixels; ``bypass_csp`` lets
        the harness inject a script (axe-core) into a page whose policy forbids scripts.
        """
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        if viewport is not None:
            width, height = viewport
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
        self.send(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            session=session,
        )
        if bypass_csp:
            self.send("Page.setBypassCSP", {"enabled": True}, session=session)
        self.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return session

    def evaluate(self, session: str, expression: str, *, is_async: bool = False) -> Any:
        """Evaluate ``expression`` in the page and return its value (a page exception fails)."""
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": is_async},
            session=session,
        )
        if "exceptionDetails" in reply:
            raise AssertionError(reply["exceptionDetails"])
        return reply["result"].get("value")

    def element_rect(self, session: str, selector: str) -> list[float] | None:
        """Return ``[top, bottom, left, right]`` of the first match of ``selector``, or None."""
        return self.evaluate(session, _RECT.format(sel=selector))

    def open_page(self, path: Path) -> dict[str, Any]:
        """Open ``path`` offline; return the session id, the screenshot and the page text."""
        session = self.navigate(path)
        shot = self.send("Page.captureScreenshot", {"format": "png"}, session=session)
        text = self.send(
            "Runtime.evaluate",
            {"expression": "document.body.innerText", "returnByValue": True},
            session=session,
        )["result"]["value"]
        injected = self.send(
            "Runtime.evaluate",
            {
                "expression": "document.querySelectorAll('img[src=\"x\"], script').length",
                "returnByValue": True,
            },
            session=session,
        )["result"]["value"]
        # one more round trip so late events (console, dialogs) arrive before we judge
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)
        return {"session": session, "png": shot["data"], "text": text, "injected": injected}
