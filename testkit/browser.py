"""A real browser for the console's tests: Debian's chromium package, driven by Playwright
through its `executable_path` (Playwright's own downloaded browsers are never used; nothing
is downloaded at run time).

Screenshots go to `test-artifacts/screenshots/` (or `$ARTIFACTS_DIR/screenshots/`), kept
after the run so a person can look at what the tests saw.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

# Debian names the binary `chromium`; `CHROMIUM` points elsewhere.
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The system's Chromium, or None when the machine has none."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("ARTIFACTS_DIR", "test-artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    path = chromium_path()
    if path is None:
        msg = "no chromium on this machine: `apt-get install chromium` (.ci/run does)"
        raise RuntimeError(msg)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()
