"""Fixtures for the workflow tests: a database of their own, the app on it, HTTP
stand-ins for the action targets, and a real `incident-service worker` subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from tests.conftest import LOCAL_NETWORKS, make_api_key, migrated_database
from tests.responses.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret-0123456789"


@pytest.fixture(scope="session")
def standin() -> Iterator[StandIn]:
    server = StandIn(secret=SECRET).start()
    yield server
    server.stop()


def worker_env(url: str, standin: StandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOMATION", "NOTIFY"))}
    env.update(
        DATABASE_URL=url,
        AUTOMATION_URL=f"{standin.url}/automation",
        AUTOMATION_SECRET=SECRET,
        TICKET_URL=f"{standin.url}/tickets",
        NOTIFY_WEBHOOK_URL=f"{standin.url}/chat",
        NOTIFY_WEBHOOK_SECRET=SECRET,
        ACTION_HTTP_TIMEOUT_S="2",
        WORKER_HEARTBEAT_S="0.5",
        WORKER_DEAD_AFTER_S="3",
        WORKER_POLL_S="0.5",
        LOG_LEVEL="WARNING",
        # Small pools: test runs share one PostgreSQL (max_connections 100) and some start
        # two workers; a worker's defaults hold about 50 connections.
        WORKER_DB_POOL_MAX_SIZE="8",
        WORKFLOW_SYS_DB_POOL_SIZE="8",
        OUTBOUND_ALLOW_NETWORKS=LOCAL_NETWORKS,
    )
    env.update(extra)
    return env


class Worker:
    """A real worker process; `kill()` is SIGKILL, as a crash."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "incident_service.workflows.worker"],
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
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def wf_database_url(server_url: str) -> Iterator[str]:
    with migrated_database(server_url, "incident_wf_test") as url:
        yield url


@pytest.fixture(scope="session")
def wf_settings(wf_database_url: str, standin: StandIn) -> Settings:
    return Settings(
        database_url=wf_database_url,
        db_pool_max_size=10,
        notify_webhook_url=f"{standin.url}/chat",
        notify_webhook_secret=SECRET,
        action_http_timeout_s=2,
        outbound_allow_networks=LOCAL_NETWORKS,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def wf_key(wf_database_url: str) -> str:
    return make_api_key(wf_database_url, name="wf-admin", scopes=["admin"], rate_limit=1_000_000)


@pytest.fixture(scope="session")
async def wf_client(wf_settings: Settings, wf_key: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    key = wf_key
    async with AsyncTestClient(app=create_app(wf_settings)) as client:
        client.headers.update({"Authorization": f"Bearer {key}"})
        yield client


@pytest.fixture(scope="session")
def worker(
    wf_database_url: str, standin: StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = Worker(worker_env(wf_database_url, standin), log).start().wait_ready()
    yield proc
    proc.stop()


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


def query(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()
