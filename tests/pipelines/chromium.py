"""Render a page in Debian's headless Chromium (installed by .ci/run; never downloaded)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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
