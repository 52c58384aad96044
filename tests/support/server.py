"""`incident-service serve` as a subprocess on a free port, for tests that need a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[str], within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "the server exited before it was ready"
        assert time.monotonic() < deadline, "the server was not ready in time"
        time.sleep(0.2)


@contextmanager
def served(database_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Yields the base URL and the process; its stderr (JSON logs) is piped for checks."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "incident_service.cli", "serve", "--port", str(port)],
        env=dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=30)
