"""A real worker process for the outbound sync tests: what `incident-service worker
--no-relay` runs (`run_worker`), started without the CLI module so that a broken
unrelated subcommand cannot take these tests down."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integrations.worker"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while "running" not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def worker_env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATIONS_")}
    env.update(
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        WORKFLOW_QUEUE_POLLING_S="0.05",
        INTEGRATIONS_SYNC_POLL_INTERVAL_S="0.2",
        INTEGRATIONS_SYNC_BACKOFF_BASE_S="0.2",
        INTEGRATIONS_SYNC_BACKOFF_MAX_S="2",
        INTEGRATIONS_SYNC_MAX_ATTEMPTS="8",
    )
    env.update(extra)
    return env


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 40.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.2)


def main() -> None:
    from incident_service.config import get_settings
    from incident_service.db import resolve_database_url
    from incident_service.migrate import apply_migrations
    from incident_service.workflows.worker import run_worker

    settings = get_settings()
    url = resolve_database_url(settings)
    apply_migrations(url)
    asyncio.run(run_worker(settings, url, relay=False))


if __name__ == "__main__":
    main()
