"""The worker's intake: rows the API wrote to `workflow_inbox` in its own transactions,
turned into DBOS workflows. Woken by LISTEN/NOTIFY, with a polling fallback.

Rows are claimed with `for update skip locked`, so several workers share them; a row is
marked dispatched in the same transaction that claimed it, after DBOS accepted the
workflow. A crash in between leaves the row undispatched and the next sweep starts the
same workflow id again, which DBOS treats as the existing workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from incident_service.db import AsyncConn, fetch_all, listen_loop

log = logging.getLogger(__name__)

# `handler(conn, rows)` starts the workflows for a batch of inbox rows of one kind.
Handler = Callable[[AsyncConn, list[dict[str, Any]]], Awaitable[None]]
BATCH = 200
SWEEPS_AT_ONCE = 4
FULL_WAIT_S = 0.02


@dataclass(frozen=True)
class Inbox:
    """The intake of one worker: its pool, its handlers by kind (built by the worker
    composition), and how many response workflows run here (`running(prefix)`)."""

    pool: AsyncConnectionPool[AsyncConn]
    handlers: Mapping[str, Handler]
    running: Callable[[str], int]
    concurrency: int
    poll_s: float


def capacity(rt: Inbox) -> int:
    """How many more workflows this worker takes on: WORKFLOW_WORKER_CONCURRENCY less the
    response workflows running here (escalations, asleep most of the time, do not count).
    Rows left unclaimed meanwhile are there for the other workers."""
    return rt.concurrency - rt.running("responses-")


async def sweep(rt: Inbox, limit: int = BATCH) -> int:
    """Dispatch one batch of at most `limit` rows; the number of rows dispatched."""
    async with rt.pool.connection() as conn:
        rows = await fetch_all(
            conn,
            "select id, kind, workflow_id, incident_id, args from workflow_inbox"
            " where dispatched_at is null order by id limit %s for update skip locked",
            (limit,),
        )
        if not rows:
            return 0
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_kind.setdefault(row["kind"], []).append(row)
        done: list[int] = []
        for kind, batch in by_kind.items():
            handler = rt.handlers.get(kind)
            if handler is None:
                log.error(
                    "no handler for workflow inbox kind %r; leaving %d rows", kind, len(batch)
                )
                continue
            await handler(conn, batch)
            done.extend(r["id"] for r in batch)
        await conn.execute(
            "update workflow_inbox set dispatched_at = now() where id = any(%s)", (done,)
        )
        return len(done)


class _Drains:
    """At most SWEEPS_AT_ONCE drains at a time; a wake-up that finds them all busy is
    remembered and served by the next drain that would otherwise have stopped."""

    def __init__(self, rt: Inbox, stop: asyncio.Event) -> None:
        self.rt, self.stop = rt, stop
        self.tasks: set[asyncio.Task[None]] = set()
        self.missed = False

    def wake(self) -> None:
        if len(self.tasks) >= SWEEPS_AT_ONCE:
            self.missed = True
            return
        task = asyncio.create_task(self._drain())
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if self.missed and not self.stop.is_set():
            self.missed = False
            self.wake()

    async def _drain(self) -> None:
        """Sweep until the inbox is empty, claiming only what this worker has room for;
        when full, wait for running workflows to finish (checked in memory, no query)."""
        try:
            while not self.stop.is_set():
                room = min(BATCH, capacity(self.rt))
                if room <= 0:
                    await _sleep(self.stop, FULL_WAIT_S)
                    continue
                if await sweep(self.rt, room) < room:
                    if not self.missed:
                        return
                    self.missed = False
        except (psycopg.OperationalError, OSError, PoolTimeout):
            # The database is restarting: the next notification or poll sweeps again.
            log.warning("inbox: sweep failed; the next one retries", exc_info=True)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def run(rt: Inbox, url: str, stop: asyncio.Event) -> None:
    """Sweep whenever the API notifies, and at least every `worker_poll_s`.

    Up to SWEEPS_AT_ONCE drains run side by side (rows are claimed `skip locked`, so
    they never take the same row): a notification that arrives while a sweep is still
    starting its batch's workflows gets a sweep of its own at once, instead of waiting
    for that batch (which was most of an incident's wait before its workflow started)."""
    drains = _Drains(rt, stop)

    async def each_round() -> bool:
        drains.wake()
        return False

    try:
        await listen_loop(
            url, "workflow_inbox", poll_s=rt.poll_s, stop=stop, each_round=each_round, name="inbox"
        )
    finally:
        await drains.close()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
