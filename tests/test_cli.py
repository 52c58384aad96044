"""The console command: help on every subcommand, and `serve` as a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from incident_service.cli import build_parser


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["migrate", "--help"]])
def test_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 0
    assert "usage: incident-service" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_urls_answers_and_stops_cleanly_on_ctrl_c(database_url: str) -> None:
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "incident_service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"status": "ok"}
        docs = httpx.get(f"http://127.0.0.1:{port}/docs/openapi.json").json()
        assert docs["openapi"].startswith("3.1")
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/api/v1/incidents" in output
    assert f"http://127.0.0.1:{port}/docs" in output
