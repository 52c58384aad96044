"""What the durable workflows of the domain packages share, handed down by the worker
composition (`incident_service/worker_app.py`) rather than reached through a global.

Each domain's workflows are methods of a DBOS configured instance (`@DBOS.dbos_class` +
`DBOSConfiguredInstance`) built once per worker from these `Resources`: DBOS records the
instance's class and `INSTANCE` name with every workflow, and finds the same instance
again when it recovers one, on this worker or another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from incident_service.config import Settings
from incident_service.db import AsyncConn
from incident_service.http import HttpClient

# The name of every configured instance: one per class and worker process, the same on
# every worker, so any live worker can recover a dead one's workflows.
INSTANCE = "worker"

# The DBOS queue of the outbound syncs and of the workflows recovered from a dead worker.
QUEUE = "incident-workflows"

# Options for steps that use the database: a failure to reach it (pool exhausted, server
# restarting) is retried with backoff for about two minutes instead of failing the
# workflow. Steps must be idempotent, which ours are (guarded SQL, idempotency keys).
DB_STEP: dict[str, Any] = {
    "retries_allowed": True,
    "interval_seconds": 0.5,
    "max_attempts": 12,
    "backoff_rate": 1.5,
}

# `start_now(workflow, workflow_id, *args)`: start a workflow in this worker at once
# under a fixed id (a second start of the same id is a no-op); the engine's.
StartNow = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Resources:
    """The worker's settings, database pool, HTTP client and workflow starter."""

    settings: Settings
    pool: AsyncConnectionPool[AsyncConn]
    http: HttpClient
    start_now: StartNow
