"""Drive Debian's headless Chromium over the DevTools protocol (no browser download, no
Playwright): open a page, evaluate JavaScript in it, wait for a condition."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.pipelines.chromium import CHROMIUM, FLAGS, require_chromium

# Every element matching `selector`, looking inside shadow roots too (marimo renders its
# outputs and UI elements in custom elements with their own shadow DOM).
DEEP_QUERY = """
globalThis.deepQuery = (selector) => {
  const found = [];
  const walk = (root) => {
    root.querySelectorAll('*').forEach((el) => {
      if (el.matches(selector)) found.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    });
  };
  walk(document);
  return found;
};
"""


class Page:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        """The value of `expression` (JSON-serialisable), evaluated in the page."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(
        self, expression: str, accept: Callable[[Any], bool], timeout_s: float = 60.0
    ) -> Any:
        """Evaluate `expression` until `accept` takes its value; that value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if accept(value):
                return value
            if time.monotonic() > deadline:
                msg = f"gave up after {timeout_s} s; last value: {value!r}"
                raise TimeoutError(msg)
            time.sleep(0.5)


@contextmanager
def chromium_page(url: str) -> Iterator[Page]:
    """A headless Chromium tab showing `url`, with a fresh profile."""
    require_chromium()
    with tempfile.TemporaryDirectory(
        prefix="chromium-profile-", ignore_cleanup_errors=True
    ) as profile:
        # Its own process group, so its renderer and helper processes end with it.
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while not port_file.exists() or not port_file.read_text().strip():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("chromium did not open its DevTools port")
                time.sleep(0.2)
            port = int(port_file.read_text().split()[0])
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            with connect(ws_url, max_size=None, open_timeout=30) as ws:
                page = Page(ws)
                page.call("Page.enable")
                page.call("Page.navigate", url=url)
                yield page
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
