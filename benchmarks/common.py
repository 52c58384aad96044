"""Pieces every benchmark shares: a scratch database, the service as a subprocess, stats."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg
from psycopg import sql

from incident_service.config import Settings
from incident_service.db import resolve_database_url, with_database
from incident_service.migrate import apply_migrations

ROOT = Path(__file__).resolve().parent.parent


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or resolve_database_url(
        Settings(database_url=None, data_dir=ROOT / ".data")
    )


@contextmanager
def scratch_database(prefix: str = "incident_bench") -> Iterator[str]:
    """A freshly migrated database that exists only for this benchmark run."""
    server = server_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    try:
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(
    database_url: str,
    *,
    workers: int = 1,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[int]:
    """`incident-service serve` in a subprocess; yields its port once /ready answers.
    `env`: settings for this run, over this process's environment."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING", **(env or {}))
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
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Generous: on two cores shared with test suites the start-up alone took over 60 s.
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()  # else reading its stderr below waits for it to exit
                proc.wait()
                raise RuntimeError(
                    f"service did not start: {proc.stderr.read() if proc.stderr else ''}"
                )
            time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass(frozen=True)
class Summary:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def summarize(latencies_ns: Sequence[int], seconds: float) -> Summary:
    if not latencies_ns:
        return Summary(0, seconds, float("nan"), float("nan"), float("nan"))
    arr = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    p50, p99, p999 = np.percentile(arr, [50, 99, 99.9])
    return Summary(len(arr), seconds, float(p50), float(p99), float(p999))


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as `uptime` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def admin_key(database_url: str) -> str:
    """An admin API key for a benchmark's own database, with a rate limit it cannot reach."""
    import asyncio

    from psycopg.rows import dict_row

    from incident_service.auth import service as auth
    from incident_service.auth.schemas import ApiKeyCreate, Scope

    async def create() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
            request = ApiKeyCreate(name="bench", scopes=[Scope.ADMIN], rate_limit=1_000_000)
            created = await auth.create_key(c, request, actor="benchmark")
            await c.commit()
            return created.key

    return asyncio.run(create())
