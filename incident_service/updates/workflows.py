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

The same loop runs the worker's other sweeps of this shape (`Sweeps`, rounds by name, each
under its own advisory lock): today the overdue follow-ups (`followups/overdue.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

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


# One round of a sweep: raise up to `batch` of what is due, in the caller's transaction;
# how many were raised (fewer than `batch`: nothing more is due now).
Round = Callable[[AsyncConn, int], Awaitable[int]]


async def raise_update_reminders(conn: AsyncConn, batch: int) -> int:
    statement = repository.sweep_statement(await repository.roles_table(conn))
    return len(await repository.raise_due(conn, statement, defaults(), batch))


class Sweeps:
    """The worker's sweeps on its pool, every `POLLS_PER_ROUND` x `WORKER_POLL_S`: each
    round by name, batch after batch, each batch one transaction under the round's lock."""

    def __init__(self, resources: Resources, rounds: Mapping[str, Round]) -> None:
        self.pool: AsyncConnectionPool[AsyncConn] = resources.pool
        self.poll_s = resources.settings.worker_poll_s * POLLS_PER_ROUND
        self.rounds = rounds

    async def sweep_once(self) -> dict[str, int]:
        """Every round once; how many each raised (0 when another worker holds it)."""
        return {name: await self._round(name, step) for name, step in self.rounds.items()}

    async def _round(self, name: str, step: Round) -> int:
        raised = 0
        while True:
            async with self.pool.connection() as conn:
                if not await repository.try_sweep_lock(conn, name):
                    return raised
                count = await step(conn, BATCH)
            raised += count
            if count < BATCH:
                return raised

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for name, step in self.rounds.items():
                try:
                    await self._round(name, step)
                except (psycopg.OperationalError, OSError, PoolTimeout):
                    # The database is restarting: the next round raises what is due by then.
                    log.warning("sweep %s failed; the next one retries", name, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
