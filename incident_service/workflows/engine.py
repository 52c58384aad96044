"""The durable-workflow engine: DBOS Transact checkpointing in OUR PostgreSQL database,
and the worker's part in recovering the workflows of workers that died.

The worker composition (`incident_service/worker_app.py`) builds one `Engine` per worker
process, builds the domains' workflow instances before `launch`, and hands the engine's
`start_now` down to them. How to add a workflow, an action or a channel:
docs/workflows.md.

Every worker process has its own executor id (`<host>-<pid>-<random>`) and heartbeats in
`workflow_workers`, from before it launches DBOS. At each heartbeat a worker puts back on
DBOS's queue every PENDING workflow whose executor has no heartbeat fresher than
`WORKER_DEAD_AFTER_S` (`recover_dead`: one statement), and they resume from their last
checkpoint on whichever live worker claims them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import secrets
import socket
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, SetWorkflowID
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from incident_service import __version__
from incident_service.config import Settings
from incident_service.db import AsyncConn, fetch_all
from incident_service.durable import QUEUE
from incident_service.observability import library_log_level
from incident_service.workflows import dbos_internals
from incident_service.workflows.dbos_internals import INTERNAL_QUEUE_NAME, Executions

log = logging.getLogger(__name__)

APP_NAME = "incident-service"
# Fixed, not derived from the source: DBOS only recovers workflows of the same application
# version, and a dead worker's workflows must be recoverable by any live worker. Bump the
# suffix when a workflow's steps change in a way old checkpoints cannot replay (wf6: the
# workflows became methods of configured instances).
APP_VERSION = f"incident-service-{__version__}-wf6"


def new_executor_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _classify_disconnects(ctx: sa.engine.ExceptionContext) -> None:
    """Mark a lost or refused connection as a disconnect on DBOS's SQLAlchemy engine.

    DBOS retries its own checkpoint writes (`db_retry`) only for errors it recognises as
    a lost connection, and it does not recognise psycopg's "connection is bad: ... No such
    file or directory", which is what a checkout raises while PostgreSQL is down (socket
    gone). Unrecognised, the error escapes the checkpoint write and kills the running
    workflow coroutine: after a PostgreSQL restart some workflows ended in ERROR or were
    left PENDING with nobody running them. Marked as a disconnect, SQLAlchemy sets
    `connection_invalidated` and DBOS waits the outage out, as it intends to. Errors the
    server sent (a sqlstate outside class 08) keep their meaning.
    """
    error = ctx.original_exception
    if isinstance(error, psycopg.OperationalError):
        sqlstate = error.sqlstate or ""
        if not sqlstate or sqlstate.startswith("08"):
            ctx.is_disconnect = True


# Puts PENDING workflows back on DBOS's queue, as DBOS's own recovery does row by row
# (`SystemDatabase.reenqueue_for_recovery`, dbos 3.4.0): ENQUEUED, no owner (a write the
# old execution still has in flight then loses), their own queue or DBOS's internal one.
# Any live worker's queue thread then claims them and resumes them from their last
# checkpoint. Only workflows of this application version (DBOS runs no others).
_REENQUEUE = f"""
update dbos.workflow_status s
set status = 'ENQUEUED', owner_xid = null, started_at_epoch_ms = null,
    updated_at = (extract(epoch from now()) * 1000)::bigint,
    queue_name = coalesce(s.queue_name, '{INTERNAL_QUEUE_NAME}')
"""
_OURS = (
    " s.status = 'PENDING' and s.application_version = %(version)s"
    " and (s.application_name = %(app)s or s.application_name is null)"
)

# Level-triggered: every PENDING workflow whose executor has no fresh heartbeat, in one
# statement. Not "the executors whose heartbeat row this worker deleted": that hand-off
# lived only in the memory of the worker doing it (while DBOS re-enqueued the workflows
# one transaction each, for many seconds), so a worker killed meanwhile had deleted the
# row and the rest of the dead worker's workflows stayed PENDING for ever.
_RECOVER_DEAD = (
    _REENQUEUE
    + " where"
    + _OURS
    + """
  and s.executor_id <> %(me)s
  and not exists (
    select 1 from workflow_workers w
    where w.executor_id = s.executor_id
      and w.heartbeat_at >= now() - make_interval(secs => %(dead_after)s))
returning s.workflow_uuid, s.executor_id
"""
)


# Errors that mean "the database went away", not "the workflow is wrong".
_INFRA_ERRORS = ("OperationalError", "PoolTimeout", "InterfaceError", "AdminShutdown")
_MAX_RESUMES = 3

_HEAL_ORPHANS = (
    _REENQUEUE
    + """
from unnest(%(ids)s::text[], %(tokens)s::text[]) as c(wid, token)
where s.workflow_uuid = c.wid and s.executor_id = %(me)s and"""
    + _OURS
    + """
  and (s.owner_xid = c.token or (c.token is null and s.owner_xid = s.creator_xid))
returning s.workflow_uuid
"""
)


class Engine:
    """One worker's DBOS: its executor id, its launch and graceful stop, the direct starts
    of workflows, and the heartbeat that recovers dead workers' workflows and heals this
    one's. What it knows of the workflows running here lives on it, not in the module."""

    def __init__(self, settings: Settings, url: str, executor_id: str | None = None) -> None:
        self.settings = settings
        self.url = url
        self.executor_id = executor_id or new_executor_id()
        self.executions: Executions | None = None
        # Workflows whose start is under way here: their status row is PENDING under this
        # executor before they are active (the start waits on DBOS's pool, seconds when it
        # is exhausted), so `heal` must not take them for orphans when an earlier start of
        # theirs failed.
        self._starting: set[str] = set()
        # Direct starts that failed: their status row may be written with nobody to run it.
        self._failed_starts: set[str] = set()
        self._resumed: dict[str, int] = {}

    async def register(self) -> None:
        """The worker's first heartbeat, before it launches DBOS: a live worker's workflows
        must never be found without a fresh heartbeat (see `recover_dead`)."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await self._beat(conn)

    async def _beat(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(
            "insert into workflow_workers (executor_id, hostname, pid)"
            " values (%s, %s, %s) on conflict (executor_id) do update set heartbeat_at = now()",
            (self.executor_id, platform.node()[:200], os.getpid()),
        )

    async def launch(self) -> None:
        """Configure DBOS and start it; call from inside the worker's event loop (so queued
        async workflows run on that loop) after the workflow instances are built."""
        settings = self.settings
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": self.url,
            "application_version": APP_VERSION,
            "executor_id": self.executor_id,
            "sys_db_pool_size": settings.workflow_sys_db_pool_size,
            # Its start-up narration (a line per schema migration) only under DEBUG.
            "log_level": library_log_level(settings.log_level),
            "notification_listener_polling_interval_sec": 0.1,
            # No ping (a round trip) before every checkout of DBOS's pool: a connection
            # lost to a PostgreSQL restart fails its next statement instead, which
            # `_classify_disconnects` marks as a disconnect, so SQLAlchemy drops the pool's
            # connections and DBOS's `db_retry` runs the operation again on a new one.
            "db_engine_kwargs": {"pool_pre_ping": False},
        }
        if not sa.event.contains(sa.engine.Engine, "handle_error", _classify_disconnects):
            sa.event.listen(sa.engine.Engine, "handle_error", _classify_disconnects)
        self.executions = dbos_internals.install(DBOS(config=config))
        DBOS.launch()
        await DBOS.register_queue_async(
            QUEUE,
            worker_concurrency=settings.integration_sync_concurrency,
            polling_interval_sec=settings.workflow_queue_polling_s,
        )

    async def start_now(self, workflow: Callable[..., Any], workflow_id: str, *args: Any) -> None:
        """Start a workflow in this worker at once, under a fixed id (a second start of the
        same id is a no-op: DBOS runs only the first).

        Not through the DBOS queue: a queued workflow waits for the queue thread's next poll,
        a claim transaction and a status read before it runs, which was most of the time from
        an incident's commit to its first action. Flow control is the intake's instead (it
        claims inbox rows only while `running()` is under WORKFLOW_WORKER_CONCURRENCY), and a
        workflow recovered from a dead or stopping worker goes through DBOS's internal queue.
        """
        self._starting.add(workflow_id)
        try:
            with SetWorkflowID(workflow_id):
                await DBOS.start_workflow_async(workflow, *args)
        except BaseException:
            self._failed_starts.add(workflow_id)  # its row may be written with nobody running it
            raise
        finally:
            self._starting.discard(workflow_id)

    def running(self, prefix: str = "") -> int:
        """Workflows running in this process whose id starts with `prefix`."""
        if self.executions is None:
            return 0
        return sum(1 for w in self.executions.activeList() if w.startswith(prefix))

    async def hand_over(self, grace_s: float, hurry: asyncio.Event) -> int:
        """A graceful stop: take no more workflows, give the running ones `grace_s` to finish
        (cut short when `hurry` is set), then hand the rest to the live workers at once.

        The rest are cancelled here (a workflow task cancelled mid-step leaves that step to be
        run again: steps are idempotent, effects carry idempotency keys) and put back on their
        queue as recovery does for a dead worker, so any live worker's next queue poll resumes
        them from their last checkpoint; a durable sleep keeps its original wake-up time. A
        write this process still had in flight loses to the new owner (DBOS fences checkpoint
        writes by owner). The number of workflows handed over is returned.
        """
        dbos_internals.stop_dequeuing()
        deadline = asyncio.get_running_loop().time() + grace_s
        while self.running() and not hurry.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), timeout=min(0.05, left))
        running = dbos_internals.workflow_tasks()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        handles = await asyncio.to_thread(dbos_internals.recover_pending, self.executor_id)
        if handles:
            log.warning("handed %d workflows over to the live workers", len(handles))
        return len(handles)

    async def retire(self, pool: AsyncConnectionPool[AsyncConn]) -> None:
        """Mark this worker's heartbeat as long gone, so the next heartbeat of any live
        worker recovers whatever `hand_over` could not put back (instead of after
        WORKER_DEAD_AFTER_S)."""
        async with pool.connection() as conn:
            await conn.execute(
                "update workflow_workers set heartbeat_at = '-infinity' where executor_id = %s",
                (self.executor_id,),
            )

    def shutdown(self) -> None:
        DBOS.destroy(workflow_completion_timeout_sec=0)
        self.executions = None

    async def heartbeat_and_recover(self, stop: asyncio.Event) -> None:
        """Beat; recover the workflows of workers whose heartbeat stopped; heal this worker's.

        On a connection of its own, not the pool: with hundreds of workflows queued for the
        pool's connections, a beat that waited its turn arrived late, and another worker took
        this live one for dead and re-ran its workflows (seen with two workers on small pools).
        """
        conn: psycopg.AsyncConnection[dict[str, Any]] | None = None
        try:
            while not stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = await psycopg.AsyncConnection.connect(
                            self.url, autocommit=True, row_factory=dict_row
                        )
                    await self._beat(conn)
                    await self.recover_dead(conn)
                    await self.heal(conn)
                except Exception:  # the database may be restarting: beat again next time
                    log.warning("heartbeat failed; retrying", exc_info=True)
                    if conn is not None:
                        await conn.close()
                        conn = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.worker_heartbeat_s)
        finally:
            if conn is not None:
                await conn.close()

    async def recover_dead(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> int:
        """Hand every PENDING workflow of a dead executor (its heartbeat older than
        WORKER_DEAD_AFTER_S, retired, or gone) to the live workers; the number re-enqueued.

        One statement, so a worker killed meanwhile leaves nothing half done, and any live
        worker's next heartbeat finds whatever is left. Workers beat before they launch DBOS
        (`register`), so a live worker's workflows always have a fresh heartbeat. Two workers
        recovering at once is harmless: a workflow re-enqueued is no longer PENDING.
        """
        rows = await fetch_all(
            conn,
            _RECOVER_DEAD,
            {
                "version": APP_VERSION,
                "app": APP_NAME,
                "me": self.executor_id,
                "dead_after": self.settings.worker_dead_after_s,
            },
        )
        # Housekeeping only: a missing row means dead, as an old one does.
        await conn.execute(
            "delete from workflow_workers where executor_id <> %s"
            " and heartbeat_at < now() - make_interval(secs => %s)",
            (self.executor_id, self.settings.worker_dead_after_s),
        )
        if rows:
            dead = sorted({r["executor_id"] for r in rows})
            log.warning("recovered %d workflows of dead workers %s", len(rows), ", ".join(dead))
        return len(rows)

    async def heal(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        """Restart this worker's workflows that nobody runs any more (a safety net).

        A workflow whose coroutine died (a database outage DBOS did not wait out, a dispatch
        that failed after the queue claimed it) is left PENDING under this executor. Those are
        re-enqueued, as recovery does for a dead worker: the executions that ended here with
        the row still PENDING under their token, the queue claims that never started, and
        direct starts that failed after writing their row. Which workflow is running here is
        known from DBOS's registry, not guessed from the row's age: a claimed batch can take
        many seconds to start on a busy worker, and re-enqueueing workflows that were about to
        run made each of them run twice. ERROR ones whose recorded error is a database outage
        (or was not recorded) are resumed from their last checkpoint.
        """
        candidates: list[tuple[str, str | None]] = []
        executions = self.executions
        if executions is not None:
            dispatched = executions.take_dispatched()
            # The tasks of a dispatched batch were created before the batch was marked
            # dispatched, so one turn of the loop lets each register before we look.
            await asyncio.sleep(0)
            candidates.extend(executions.take_orphan_candidates(dispatched))
        if self._failed_starts:
            active = set(executions.activeList()) if executions is not None else set()
            busy = active | self._starting
            candidates.extend((wid, None) for wid in list(self._failed_starts) if wid not in busy)
            self._failed_starts.clear()
        orphans: list[str] = []
        if candidates:
            orphans = [
                r["workflow_uuid"]
                for r in await fetch_all(
                    conn,
                    _HEAL_ORPHANS,
                    {
                        "ids": [c[0] for c in candidates],
                        "tokens": [c[1] for c in candidates],
                        "me": self.executor_id,
                        "version": APP_VERSION,
                        "app": APP_NAME,
                    },
                )
            ]
        errored = [
            r["workflow_uuid"]
            for r in await fetch_all(
                conn,
                "select workflow_uuid from dbos.workflow_status"
                " where executor_id = %s and application_version = %s and status = 'ERROR'"
                " and updated_at < (extract(epoch from now()) * 1000 - 5000)::bigint",
                (self.executor_id, APP_VERSION),
            )
            if self._resumed.get(r["workflow_uuid"], 0) < _MAX_RESUMES
        ]
        failed: list[str] = []
        if errored:
            # The stored error is serialized (pickled): read it back through DBOS.
            for status in await DBOS.list_workflows_async(workflow_ids=errored, load_input=False):
                error = status.error
                text = "" if error is None else f"{type(error).__name__}: {error}"
                # Our workflows never raise for a failed action (that is recorded as
                # `failed`), so an ERROR is an outage or a bug: each is resumed at most
                # _MAX_RESUMES times by a worker.
                if not text or any(e in text for e in _INFRA_ERRORS):
                    failed.append(status.workflow_id)
        for wid in failed:
            self._resumed[wid] = self._resumed.get(wid, 0) + 1
            await DBOS.resume_workflow_async(wid)
        if orphans or failed:
            log.warning(
                "re-started %d orphaned and %d outage-failed workflows", len(orphans), len(failed)
            )
