"""The console command: help on every subcommand, and `serve` as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from incident_cli.main import build_parser
from incident_service.db import with_database
from testkit.databases import create_database, drop_database
from testkit.server import free_port, wait_ready

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["migrate", "--help"]])
def test_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 0
    assert "usage: incident-service" in capsys.readouterr().out


def test_serve_prints_urls_answers_and_stops_cleanly_on_ctrl_c(server_url: str) -> None:
    """On a fresh database, as `make run` on a fresh data folder: migrations, an admin key
    printed once, the API answering with it, and a clean stop on Ctrl-C."""
    name = create_database(server_url, "incident_serve")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=with_database(server_url, name))
    proc = subprocess.Popen(
        [sys.executable, "-m", "incident_service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        key = None
        deadline = time.monotonic() + 90
        while key is None:  # the banner comes before the server starts
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(lines)
            lines.append(line)
            match = re.search(r"admin API key \(shown once, store it now\): (isk_\S+)", line)
            key = match.group(1) if match else None
        wait_ready(base, proc, within=max(1.0, deadline - time.monotonic()))
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        assert httpx.get(f"{base}/docs/openapi.json").status_code == 401
        document = httpx.get(
            f"{base}/docs/openapi.json", headers={"Authorization": f"Bearer {key}"}
        )
        assert document.json()["openapi"].startswith("3.1")
        assert httpx.get(f"{base}/api/v1/incidents").status_code == 401
        authorized = httpx.get(
            f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {key}"}
        )
        assert authorized.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        # Read through the same buffered stream as readline above: communicate() would
        # read the pipe underneath and miss what that stream had already buffered.
        assert proc.stdout is not None
        rest = proc.stdout.read()
        proc.wait(timeout=30)
        drop_database(server_url, name)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert f"{base}/api/v1/incidents" in output and f"{base}/docs" in output
    assert output.count("isk_") == 2, "the key is printed once (and once in the curl example)"


def _start_serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    # No DATABASE_URL: the embedded PostgreSQL under DATA_DIR, as a new user runs it. The
    # working directory is the data folder's parent so that no `.env` is read.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "incident_service.cli", "serve", "--port", str(port)],
        env=env,
        cwd=data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _postgres_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _serve_and_stop(data_dir: Path, sig: signal.Signals) -> int:
    """Serve on the embedded PostgreSQL, stop with `sig`; the postgres pid it ran."""
    port = free_port()
    proc = _start_serve(data_dir, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, within=120)
        pid = _postgres_pid(data_dir / "pg")
        assert not _gone(pid)
    finally:
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    return pid


def test_serve_stops_the_embedded_postgres_on_sigterm_as_on_ctrl_c(tmp_path: Path) -> None:
    """SIGTERM (kill, systemd, docker stop) ends the embedded PostgreSQL as Ctrl-C does, and
    a process that died without its exit hooks does not keep the server alive for good."""
    data_dir = tmp_path / "data"
    handles = data_dir / "pg" / ".handle_pids.json"
    started: list[int] = []

    def stopped(pid: int) -> bool:
        started.append(pid)
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        return _gone(pid)

    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            pid = _serve_and_stop(data_dir, sig)
            assert stopped(pid), f"postgres {pid} still runs after {sig.name}"
            assert json.loads(handles.read_text()) == [], sig.name

        # A user of the server that was SIGKILLed stays on the list: it must not count.
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        handles.write_text(json.dumps([dead.pid]))
        pid = _serve_and_stop(data_dir, signal.SIGTERM)
        assert stopped(pid), "a dead process on the handle list kept postgres running"
        assert json.loads(handles.read_text()) == []
    finally:
        for pid in started:  # a failed run must not leave a server behind
            if not _gone(pid):
                os.kill(pid, signal.SIGTERM)


def test_serve_logs_json_with_request_ids_and_no_keys(server_url: str) -> None:
    """Every line `serve` writes to stderr is JSON; a request's lines carry its request id;
    an error on a webhook route logs its path without the integration key in it."""
    name = create_database(server_url, "incident_logs")
    url = with_database(server_url, name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="INFO")
    proc = subprocess.Popen(
        [sys.executable, "-m", "incident_service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    key = "0123456789abcdef" * 2  # the shape of an integration key
    try:
        wait_ready(base, proc, within=120)
        # A real fault on the webhook's path: its table is gone.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter table integrations rename to integrations_gone")
        failed = httpx.post(
            f"{base}/api/v1/integrations/alertmanager/{key}",
            json={"version": "4", "alerts": []},
            headers={"X-Request-ID": "req-webhook-1"},
        )
        assert failed.status_code == 500, failed.text
        assert key not in failed.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        drop_database(server_url, name)
    lines = [line for line in stderr.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON log line: {line!r}\n{stderr}")
    assert key not in stderr
    errors = [r for r in records if r["request_id"] == "req-webhook-1"]
    assert errors, stderr
    assert any(r["level"] == "ERROR" and "/alertmanager/***" in r["message"] for r in errors)
    assert any("exception" in r for r in errors)
    assert all({"ts", "level", "logger", "message", "request_id"} <= set(r) for r in records)


def test_worker_stops_the_embedded_postgres_on_sigterm(tmp_path: Path) -> None:
    """`incident-service worker` on the embedded PostgreSQL: SIGTERM ends both."""
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "incident_service.cli", "worker", "--no-relay"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    pid = None
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        line = ""
        while "running" not in line:
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, "the worker did not start"
        pid = _postgres_pid(data_dir / "pg")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    try:
        assert proc.returncode == 0
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(pid), "the embedded postgres outlived the worker"
        assert json.loads((data_dir / "pg" / ".handle_pids.json").read_text()) == []
    finally:
        if pid is not None and not _gone(pid):
            os.kill(pid, signal.SIGTERM)
