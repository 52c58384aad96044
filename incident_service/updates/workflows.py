"""The update reminder: the worker raises `incident_update_due` when an active incident's
stakeholder update is overdue, once per interval while it stays overdue.

A sweep, not a sleeping workflow per incident: every active incident with a cadence has a
timer, and what sets it (its last update, its creation, its severity, its team's cadence,
its status) changes through routes of several packages. The sweep reads them all from the
database each round (`repository.sweep_statement`), so nothing needs telling when one
changes, and nothing is held in memory: a restarted worker carries on from the tables.
Each reminder's slot (`due_at`) is unique per incident, so a round re-run after a crash, or
run by two workers at once, raises nothing twice; an advisory lock keeps the other workers
from doing the same work meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from incident_service.db import AsyncConn
from incident_service.durable import Resources
from incident_service.updates import repository
from incident_service.updates.service import defaults

log = logging.getLogger(__name__)

BATCH = 500


# Rounds are this many polls apart (5 s by default): cadences count in minutes, and a
# round over 10,000 active incidents took 20-40 ms at rest, about 200 ms at load 10
# (docs/workflows.md).
POLLS_PER_ROUND = 5


class UpdateReminders:
    """The reminder sweep on the worker's pool, every `POLLS_PER_ROUND` x `WORKER_POLL_S`."""

    def __init__(self, resources: Resources) -> None:
        self.pool: AsyncConnectionPool[AsyncConn] = resources.pool
        self.poll_s = resources.settings.worker_poll_s * POLLS_PER_ROUND

    async def sweep_once(self) -> int:
        """Raise the reminders due now; how many (0 when another worker holds the round)."""
        raised = 0
        while True:
            async with self.pool.connection() as conn:
                if not await repository.try_sweep_lock(conn):
                    return raised
                statement = repository.sweep_statement(await repository.roles_table(conn))
                rows = await repository.raise_due(conn, statement, defaults(), BATCH)
            raised += len(rows)
            if len(rows) < BATCH:
                return raised

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except (psycopg.OperationalError, OSError, PoolTimeout):
                # The database is restarting: the next round raises what is due by then.
                log.warning("update reminders: sweep failed; the next one retries", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
