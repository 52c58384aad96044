"""`incident-service serve` as a subprocess on a free port: the real server, for the tests
that need one and for the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
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
        if proc.poll() is not None:
            output = proc.stderr or proc.stdout
            said = output.read() if output else ""
            msg = f"the server exited before it was ready: {said[-3000:]}"
            raise AssertionError(msg)
        assert time.monotonic() < deadline, "the server was not ready in time"
        time.sleep(0.1)


@contextmanager
def served(
    database_url: str,
    *,
    workers: int = 1,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Yields the base URL and the process once /ready answers; its stderr (JSON logs) is
    piped for checks. `env`: settings for this run, over this process's environment."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "incident_service.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *extra,
        ],
        env=dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING", **(env or {})),
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
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
