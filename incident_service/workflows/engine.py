"""The durable-workflow engine: DBOS Transact checkpointing in OUR PostgreSQL database.

How to add a workflow (issue 4's outbound sync does this):
  1. In your module, decorate `async def` functions with `@DBOS.workflow(name=...)` and
     `@DBOS.step(...)`; reach the database, HTTP client and settings through
     `engine.runtime()` (never at import time).
  2. Append the module's dotted name to `WORKFLOW_MODULES` below, so every worker imports
     it (and registers the workflows) before DBOS launches.
  3. To start it durably from an API transaction, insert a row into `workflow_inbox`
     (`responses.repository.enqueue(conn, kind, workflow_id, incident_id, args)`) and
     register what the worker does with that kind: `inbox.register_kind(kind, handler)`.
     The row commits with your change; the worker starts the workflow with that
     `workflow_id` (which makes a second start a no-op), so nothing is lost.
How to add an action executor: see `responses/actions.py` (`register_action`).

Every worker process has its own executor id (`<host>-<pid>-<random>`) and heartbeats in
`workflow_workers`. A worker that finds another's heartbeat older than
`WORKER_DEAD_AFTER_S` deletes that row (one worker wins the delete) and asks DBOS to
recover the dead executor's pending workflows, which resume from their last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, SetWorkflowID
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from incident_service import __version__
from incident_service.config import Settings
from incident_service.db import AsyncConn
from incident_service.http import HttpClient

log = logging.getLogger(__name__)

QUEUE = "incident-workflows"
# Fixed, not derived from the source: DBOS only recovers workflows of the same application
# version, and a dead worker's workflows must be recoverable by any live worker. Bump the
# suffix when a workflow's steps change in a way old checkpoints cannot replay.
APP_VERSION = f"incident-service-{__version__}-wf4"

# Options for steps that use the database: a failure to reach it (pool exhausted, server
# restarting) is retried with backoff for about two minutes instead of failing the
# workflow. Steps must be idempotent, which ours are (guarded SQL, idempotency keys).
DB_STEP: dict[str, Any] = {
    "retries_allowed": True,
    "interval_seconds": 0.5,
    "max_attempts": 12,
    "backoff_rate": 1.5,
}

WORKFLOW_MODULES: list[str] = [
    "incident_service.responses.workflows",
    "incident_service.escalation.workflows",
    "incident_service.escalation.paging",
    "incident_service.workflows.intake",
    "incident_service.integrations.workflows",
]


@dataclass
class Runtime:
    """What workflow steps use: set once by the worker that launched DBOS."""

    settings: Settings
    pool: AsyncConnectionPool[AsyncConn]
    http: HttpClient
    executor_id: str
    executors: dict[str, Any]


_runtime: Runtime | None = None


def runtime() -> Runtime:
    if _runtime is None:
        msg = "the workflow engine is not running in this process (run `incident-service worker`)"
        raise RuntimeError(msg)
    return _runtime


def new_executor_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def import_workflows() -> None:
    for module in WORKFLOW_MODULES:
        importlib.import_module(module)


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


async def launch(url: str, settings: Settings, rt: Runtime) -> None:
    """Configure DBOS on `url` and start it; call from inside the worker's event loop so
    queued async workflows run on that loop (and can use the runtime's pool and client)."""
    global _runtime
    _runtime = rt
    import_workflows()
    config: DBOSConfig = {
        "name": "incident-service",
        "system_database_url": url,
        "application_version": APP_VERSION,
        "executor_id": rt.executor_id,
        "sys_db_pool_size": settings.workflow_sys_db_pool_size,
        "log_level": settings.log_level.upper(),
        "notification_listener_polling_interval_sec": 0.1,
        # No ping (a round trip) before every checkout of DBOS's pool: a connection lost
        # to a PostgreSQL restart fails its next statement instead, which
        # `_classify_disconnects` marks as a disconnect, so SQLAlchemy drops the pool's
        # connections and DBOS's `db_retry` runs the operation again on a new one.
        "db_engine_kwargs": {"pool_pre_ping": False},
    }
    if not sa.event.contains(sa.engine.Engine, "handle_error", _classify_disconnects):
        sa.event.listen(sa.engine.Engine, "handle_error", _classify_disconnects)
    DBOS(config=config)
    DBOS.launch()
    await DBOS.register_queue_async(
        QUEUE,
        worker_concurrency=settings.integration_sync_concurrency,
        polling_interval_sec=settings.workflow_queue_polling_s,
    )


async def hand_over(rt: Runtime, grace_s: float, hurry: asyncio.Event) -> int:
    """A graceful stop: take no more workflows, give the running ones `grace_s` to finish
    (cut short when `hurry` is set), then hand the rest to the live workers at once.

    The rest are cancelled here (a workflow task cancelled mid-step leaves that step to be
    run again: steps are idempotent, effects carry idempotency keys) and put back on their
    queue as recovery does for a dead worker, so any live worker's next queue poll resumes
    them from their last checkpoint; a durable sleep keeps its original wake-up time. A
    write this process still had in flight loses to the new owner (DBOS fences checkpoint
    writes by owner). The number of workflows handed over is returned.
    """
    from dbos._dbos import _get_dbos_instance

    dbos = _get_dbos_instance()
    for event in dbos.background_thread_stop_events:  # the queue thread: no more dequeues
        event.set()
    deadline = asyncio.get_running_loop().time() + grace_s
    while dbos._active_workflows_set.activeList() and not hurry.is_set():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hurry.wait(), timeout=min(0.05, left))
    running = list(dbos._workflow_tasks)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [rt.executor_id])
    if handles:
        log.warning("handed %d workflows over to the live workers", len(handles))
    return len(handles)


async def retire(rt: Runtime) -> None:
    """Mark this worker's heartbeat as long gone, so the next heartbeat of any live worker
    recovers whatever `hand_over` could not put back (instead of after
    WORKER_DEAD_AFTER_S)."""
    async with rt.pool.connection() as conn:
        await conn.execute(
            "update workflow_workers set heartbeat_at = '-infinity' where executor_id = %s",
            (rt.executor_id,),
        )


async def start_now(workflow: Callable[..., Any], workflow_id: str, *args: Any) -> None:
    """Start a workflow in this worker at once, under a fixed id (a second start of the
    same id is a no-op: DBOS runs only the first).

    Not through the DBOS queue: a queued workflow waits for the queue thread's next poll,
    a claim transaction and a status read before it runs, which was most of the time from
    an incident's commit to its first action. Flow control is the intake's instead (it
    claims inbox rows only while `running()` is under WORKFLOW_WORKER_CONCURRENCY), and a
    workflow recovered from a dead or stopping worker goes through DBOS's internal queue.
    """
    _starting.add(workflow_id)
    try:
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(workflow, *args)
    finally:
        _starting.discard(workflow_id)


# Workflows whose start is under way here: their status row is PENDING under this executor
# before they are active (the start waits on DBOS's pool, seconds when it is exhausted), so
# `heal` must not take them for orphans.
_starting: set[str] = set()


def running(prefix: str = "") -> int:
    """Workflows running in this process whose id starts with `prefix`."""
    from dbos._dbos import _get_dbos_instance

    return sum(
        1 for w in _get_dbos_instance()._active_workflows_set.activeList() if w.startswith(prefix)
    )


def shutdown() -> None:
    global _runtime
    DBOS.destroy(workflow_completion_timeout_sec=0)
    _runtime = None


async def heartbeat_and_recover(rt: Runtime, url: str, stop: asyncio.Event) -> None:
    """Beat; and recover the workflows of any worker whose heartbeat stopped.

    On a connection of its own, not the pool: with hundreds of workflows queued for the
    pool's connections, a beat that waited its turn arrived late, and another worker took
    this live one for dead and re-ran its workflows (seen with two workers on small pools).
    """
    settings = rt.settings
    import platform

    conn: psycopg.AsyncConnection[dict[str, Any]] | None = None
    try:
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(
                        url, autocommit=True, row_factory=dict_row
                    )
                await conn.execute(
                    "insert into workflow_workers (executor_id, hostname, pid)"
                    " values (%s, %s, %s) on conflict (executor_id)"
                    " do update set heartbeat_at = now()",
                    (rt.executor_id, platform.node()[:200], os.getpid()),
                )
                cur = await conn.execute(
                    "delete from workflow_workers where executor_id <> %s and"
                    " heartbeat_at < now() - make_interval(secs => %s) returning executor_id",
                    (rt.executor_id, settings.worker_dead_after_s),
                )
                dead = [r["executor_id"] for r in await cur.fetchall()]
                if dead:
                    await recover(dead)
                await heal(rt, conn)
            except Exception:  # the database may be restarting: beat again next time
                log.warning("heartbeat failed; retrying", exc_info=True)
                if conn is not None:
                    await conn.close()
                    conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.worker_heartbeat_s)
    finally:
        if conn is not None:
            await conn.close()


async def recover(executor_ids: list[str]) -> int:
    """Hand the pending workflows of dead executors to the live ones (re-enqueued)."""
    handles = await asyncio.to_thread(DBOS._recover_pending_workflows, executor_ids)
    log.info("recovered %d workflows of dead workers %s", len(handles), ", ".join(executor_ids))
    return len(handles)


# Errors that mean "the database went away", not "the workflow is wrong".
_INFRA_ERRORS = ("OperationalError", "PoolTimeout", "InterfaceError", "AdminShutdown")
_MAX_RESUMES = 3
_resumed: dict[str, int] = {}


async def heal(rt: Runtime, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
    """Restart this worker's workflows that a database outage killed (a safety net).

    DBOS waits out a lost connection in its checkpoint writes (with `_classify_disconnects`
    installed), so an outage should no longer kill a workflow; this catches what still
    does. A workflow whose coroutine died is left PENDING (no longer running here) or
    ERROR. PENDING ones of this executor that are not active in this process are
    re-enqueued, as recovery does for a dead worker; ERROR ones whose recorded error is a
    database outage (or was not recorded) are resumed from their last checkpoint. Steps are
    idempotent, so a workflow that was in fact still running loses the race at its next
    checkpoint and stops.
    """
    from dbos._dbos import _get_dbos_instance
    from dbos._recovery import _recover_workflow
    from dbos._sys_db import GetPendingWorkflowsOutput

    dbos = _get_dbos_instance()
    cur = await conn.execute(
        "select workflow_uuid, status from dbos.workflow_status"
        " where executor_id = %s and application_version = %s"
        " and (status = 'PENDING' or status = 'ERROR')"
        " and updated_at < (extract(epoch from now()) * 1000 - 5000)::bigint",
        (rt.executor_id, APP_VERSION),
    )
    rows = await cur.fetchall()
    # Read after the query: a workflow that became active (or began starting) meanwhile is
    # not an orphan.
    busy = set(dbos._active_workflows_set.activeList()) | _starting
    orphans = [r["workflow_uuid"] for r in rows if r["status"] == "PENDING"]
    orphans = [w for w in orphans if w not in busy]
    errored = [
        r["workflow_uuid"]
        for r in rows
        if r["status"] == "ERROR" and _resumed.get(r["workflow_uuid"], 0) < _MAX_RESUMES
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
        _resumed[wid] = _resumed.get(wid, 0) + 1
    for wid in orphans:
        out = GetPendingWorkflowsOutput(workflow_id=wid)
        await asyncio.to_thread(_recover_workflow, dbos, out, [rt.executor_id])
    for wid in failed:
        await DBOS.resume_workflow_async(wid)
    if orphans or failed:
        log.warning(
            "re-started %d orphaned and %d outage-failed workflows", len(orphans), len(failed)
        )
