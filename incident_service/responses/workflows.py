"""The automated-response workflow (DBOS): an incident's actions, in order, each retried
with exponential backoff within its deadline.

Durability: every status change is a guarded SQL transition (exactly once, however often a
step re-runs after a crash); the external call is an at-least-once step whose receiver
drops repeats by `Idempotency-Key` = `response_id`. Sleeps between attempts are DBOS
durable sleeps, so a restart neither shortens nor repeats a backoff.
"""

from __future__ import annotations

import logging
from typing import Any

from dbos import DBOS, SetWorkflowID

from incident_service.db import AsyncConn
from incident_service.responses import repository
from incident_service.responses.actions import ActionContext, ActionFailed
from incident_service.responses.service import FAILED, IN_PROGRESS, PENDING, SKIPPED, SUCCEEDED
from incident_service.workflows import engine, inbox

log = logging.getLogger(__name__)

SYSTEM = "system"
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0


@DBOS.step(name="responses.load", **engine.DB_STEP)
async def load_step(incident_id: str, response_ids: list[str] | None) -> list[dict[str, Any]]:
    async with engine.runtime().pool.connection() as conn:
        cur = await conn.execute(
            "select response_id, action_type, parameters, max_attempts, deadline_s,"
            " stop_on_failure from automated_responses"
            " where incident_id = %s and (%s::text[] is null or response_id = any(%s))"
            " and execution_status in ('pending', 'in_progress') order by position",
            (incident_id, response_ids, response_ids),
        )
        return await cur.fetchall()


async def _current(conn: AsyncConn, response_id: str) -> str:
    row = await repository.get_response(conn, response_id)
    return str(row["execution_status"]) if row else SKIPPED


@DBOS.step(name="responses.begin_attempt", **engine.DB_STEP)
async def begin_attempt_step(response_id: str, attempt: int) -> dict[str, Any]:
    async with engine.runtime().pool.connection() as conn:
        moved = await repository.transition(
            conn,
            response_id,
            from_any=[PENDING, IN_PROGRESS],
            to=IN_PROGRESS,
            actor=SYSTEM,
            attempts=attempt,
        )
        if moved is None:  # cancelled (skipped) or finished meanwhile
            return {"go": False, "status": await _current(conn, response_id)}
        cur = await conn.execute(
            "select extract(epoch from now() - started_at)::float8 as elapsed"
            " from automated_responses where response_id = %s",
            (response_id,),
        )
        row = await cur.fetchone()
        elapsed = float(row["elapsed"]) if row else 0.0
        return {"go": True, "remaining_s": float(moved["deadline_s"]) - elapsed}


@DBOS.step(name="responses.execute", **engine.DB_STEP)
async def execute_step(
    incident_id: str, item: dict[str, Any], attempt: int, timeout_s: float
) -> dict[str, Any]:
    rt = engine.runtime()
    executor = rt.executors.get(item["action_type"])
    if executor is None:
        return {"ok": False, "retryable": False, "error": f"no executor for {item['action_type']}"}
    async with rt.pool.connection() as conn:
        facts = await repository.incident_facts(conn, incident_id)
    ctx = ActionContext(
        response_id=item["response_id"],
        incident_id=incident_id,
        action_type=item["action_type"],
        params=dict(item["parameters"]),
        incident=dict(facts or {}),
        attempt=attempt,
        timeout_s=max(0.1, timeout_s),
    )
    try:
        details = await executor.execute(ctx)
    except ActionFailed as exc:
        return {"ok": False, "retryable": exc.retryable, "error": str(exc)[:1000]}
    except Exception as exc:  # a bug in an executor must not kill the workflow
        log.exception("executor %s raised", item["action_type"])
        return {"ok": False, "retryable": True, "error": f"executor error: {type(exc).__name__}"}
    return {"ok": True, "details": details}


@DBOS.step(name="responses.finish", **engine.DB_STEP)
async def finish_step(response_id: str, status: str, error: str | None, attempts: int) -> str:
    async with engine.runtime().pool.connection() as conn:
        moved = await repository.transition(
            conn,
            response_id,
            from_any=[IN_PROGRESS, PENDING],
            to=status,
            actor=SYSTEM,
            attempts=attempts,
            error=error,
            clear_error=status == SUCCEEDED,
            note=error,
        )
        return status if moved is not None else await _current(conn, response_id)


@DBOS.step(name="responses.note_failed", **engine.DB_STEP)
async def note_failed_step(response_id: str, attempt: int, error: str, retry_in_s: float) -> None:
    async with engine.runtime().pool.connection() as conn:
        await repository.note_attempt_failed(conn, response_id, attempt, error, retry_in_s)


async def _run_action(incident_id: str, item: dict[str, Any]) -> str:
    rid = item["response_id"]
    max_attempts = int(item["max_attempts"])
    http_timeout = engine.runtime().settings.action_http_timeout_s
    for attempt in range(1, max_attempts + 1):
        begin = await begin_attempt_step(rid, attempt)
        if not begin["go"]:
            return str(begin["status"])
        remaining = float(begin["remaining_s"])
        if remaining <= 0:
            msg = f"deadline of {item['deadline_s']:g}s passed after {attempt - 1} attempts"
            return await finish_step(rid, FAILED, msg, attempt - 1)
        result = await execute_step(incident_id, item, attempt, min(remaining, http_timeout))
        if result["ok"]:
            return await finish_step(rid, SUCCEEDED, None, attempt)
        if not result["retryable"] or attempt == max_attempts:
            return await finish_step(rid, FAILED, result["error"], attempt)
        delay = min(BACKOFF_BASE_S * 2 ** (attempt - 1), BACKOFF_CAP_S, max(remaining, 0.0))
        await note_failed_step(rid, attempt, result["error"], delay)
        await DBOS.sleep_async(delay)
    return FAILED  # not reached: the last attempt always finishes above


@DBOS.workflow(name="responses.run")
async def run_responses(incident_id: str, response_ids: list[str] | None) -> dict[str, str]:
    """Run the incident's pending responses in order; a failure stops the rest only when
    the failed action says `stop_on_failure`."""
    outcomes: dict[str, str] = {}
    blocked_by: str | None = None
    for item in await load_step(incident_id, response_ids):
        rid = item["response_id"]
        if blocked_by is not None:
            msg = f"skipped: {blocked_by} failed and stops the actions after it"
            outcomes[rid] = await finish_step(rid, SKIPPED, msg, 0)
            continue
        outcomes[rid] = await _run_action(incident_id, item)
        if outcomes[rid] == FAILED and item["stop_on_failure"]:
            blocked_by = rid
    return outcomes


async def start(workflow_id: str, incident_id: str, response_ids: list[str] | None) -> None:
    with SetWorkflowID(workflow_id):
        await DBOS.enqueue_workflow_async(engine.QUEUE, run_responses, incident_id, response_ids)


async def _on_retry(conn: AsyncConn, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        await start(row["workflow_id"], row["incident_id"], row["args"]["response_ids"])


inbox.register_kind("response_retry", _on_retry)
