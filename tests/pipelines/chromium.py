"""Render a page in Debian's headless Chromium (installed by .ci/run; never downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium() -> None:
    """Chromium is a system package no test may download. CI (and `.ci/run`) installs it,
    so there a missing browser fails; on a developer's machine without it, the browser
    checks are skipped with the command that enables them."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"chromium not found at {CHROMIUM}; .ci/run installs Debian's package")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI runs this")


FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _run(args: list[str]) -> str:
    require_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


def dom_after_scripts(page: Path) -> str:
    """The DOM once the page's scripts have run (plotly draws synchronously on load)."""
    return _run(["--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()])


def screenshot(page: Path, png: Path, height: int = 3000) -> None:
    _run(
        [
            f"--screenshot={png}",
            f"--window-size=1200,{height}",
            "--virtual-time-budget=10000",
            page.resolve().as_uri(),
        ]
    )
