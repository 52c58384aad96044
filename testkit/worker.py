"""A real worker process (`incident-service worker`), for the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg

from testkit.databases import LOCAL_NETWORKS, ROOT


def worker_env(database_url: str, *layers: Mapping[str, str], **extra: str) -> dict[str, str]:
    """This process's environment for a worker on `database_url`: settings of the action
    targets and the vendor syncs dropped first (a test sets only its own), then each of
    `layers` in turn (`QUICK_WORKER`, `testkit.targets.targets_env(...)`), then `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTOMATION", "NOTIFY", "INTEGRATIONS_"))
    }
    env.update(DATABASE_URL=database_url, LOG_LEVEL="WARNING")
    for layer in layers:
        env.update(layer)
    env.update(extra)
    return env


# A worker timed and sized for the workflow tests: quick heartbeats and death, short
# action timeouts, targets on 127.0.0.1 allowed, and small pools: test runs share one
# PostgreSQL (max_connections 100) and some start two workers; a worker's defaults hold
# about 50 connections.
QUICK_WORKER: Mapping[str, str] = {
    "ACTION_HTTP_TIMEOUT_S": "2",
    "WORKER_HEARTBEAT_S": "0.5",
    "WORKER_DEAD_AFTER_S": "3",
    "WORKER_POLL_S": "0.5",
    "WORKER_DB_POOL_MAX_SIZE": "8",
    "WORKFLOW_SYS_DB_POOL_SIZE": "8",
    "OUTBOUND_ALLOW_NETWORKS": LOCAL_NETWORKS,
}


def query(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


class Worker:
    """`incident-service worker` in a subprocess, logging to `log`; `kill()` is SIGKILL, as
    a crash. `args`: the command's flags (``--no-relay``)."""

    def __init__(self, env: dict[str, str], log: Path, args: Sequence[str] = ()) -> None:
        self.env = env
        self.log = log
        self.args = tuple(args)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "incident_service.cli", "worker", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, within: float = 120.0) -> Worker:
        """Until the worker heartbeats and has launched DBOS (imports and the launch take a
        while on a busy machine; it beats first); fails with the worker's log when it died
        instead."""
        assert self.proc is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()[-3000:]}")
            rows = query(
                self.env["DATABASE_URL"],
                "select executor_id from workflow_workers where pid = %s",
                (self.proc.pid,),
            )
            if rows and f"worker {rows[0][0]} running" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {within}s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


async def wait_for(predicate, within: float = 20.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` (sync or async) is truthy; its last value (for asserts)."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)
