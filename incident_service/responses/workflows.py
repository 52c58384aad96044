"""The automated-response workflow (DBOS): an incident's actions, in order, each retried
with exponential backoff within its deadline.

Durability: every status change is a guarded SQL transition (exactly once, however often a
step re-runs after a crash); the external call is an at-least-once step whose receiver
drops repeats by `Idempotency-Key` = `response_id`. Sleeps between attempts are DBOS
durable sleeps, so a restart neither shortens nor repeats a backoff.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, DBOSConfiguredInstance
from psycopg_pool import AsyncConnectionPool

from incident_service.db import AsyncConn, autocommit, fetch_all
from incident_service.durable import DB_STEP, INSTANCE, Resources
from incident_service.executor import ActionContext, ActionExecutor, ActionFailed, ActionSkipped
from incident_service.responses import repository
from incident_service.responses.service import FAILED, IN_PROGRESS, PENDING, SKIPPED, SUCCEEDED

log = logging.getLogger(__name__)

SYSTEM = "system"
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0


_ITEMS = (
    "select incident_id, response_id, action_type, parameters, max_attempts, deadline_s,"
    " stop_on_failure from automated_responses"
    " where incident_id = any(%s) and (%s::text[] is null or response_id = any(%s))"
    " and execution_status in ('pending', 'in_progress') order by incident_id, position"
)


async def pending_items(
    conn: AsyncConn, incident_ids: list[str], response_ids: list[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The responses still to run, per incident, in order: what a workflow runs."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in await fetch_all(conn, _ITEMS, (incident_ids, response_ids, response_ids)):
        out.setdefault(row.pop("incident_id"), []).append(row)
    return out


async def _current(conn: AsyncConn, response_id: str) -> str:
    row = await repository.get_response(conn, response_id)
    return str(row["execution_status"]) if row else SKIPPED


# A response's begin: (the moved row, None), or (None, its current status) when it was
# not pending or in progress any more (cancelled, or finished meanwhile).
Begun = tuple[dict[str, Any] | None, str | None]


def _begin_move(response_id: str, attempt: int) -> repository.Move:
    """pending/in_progress -> in_progress, as attempt `attempt`."""
    return repository.Move(response_id, [PENDING, IN_PROGRESS], IN_PROGRESS, attempts=attempt)


@dataclass(frozen=True)
class _Tried:
    """What one attempt left: the action's final status, or the backoff before its next
    attempt; the incident's facts (read once per run); and the next action's begin when
    it was made in the same statement as this action's finish."""

    status: str | None = None
    retry_in_s: float | None = None
    facts: dict[str, Any] | None = None
    next_begun: Begun | None = None


@dataclass
class ResponseRunner:
    """Runs an incident's actions: the transitions, the calls and their outcomes."""

    pool: AsyncConnectionPool[AsyncConn]
    executors: Mapping[str, ActionExecutor]
    http_timeout_s: float

    def _statement(
        self,
    ) -> contextlib.AbstractAsyncContextManager[AsyncConn]:
        """Every write below is ONE statement (the transition, its timeline entry and its
        event are data-modifying CTEs), so it runs in autocommit mode."""
        return autocommit(self.pool)

    async def _begin(self, response_id: str, attempt: int) -> Begun:
        async with self._statement() as conn:
            moved = await repository.transitions(
                conn, [_begin_move(response_id, attempt)], actor=SYSTEM
            )
            if response_id not in moved:  # cancelled (skipped) or finished meanwhile
                return None, await _current(conn, response_id)
            return moved[response_id], None

    async def _facts(self, incident_id: str) -> dict[str, Any]:
        """What the executors see of the incident (read once per run of its actions)."""
        async with self._statement() as conn:
            return await repository.incident_facts(conn, incident_id) or {}

    async def _finish(
        self,
        response_id: str,
        status: str,
        error: str | None,
        attempts: int,
        begin_next: str | None = None,
    ) -> tuple[str, Begun | None]:
        """Finish the response: (its status, or its current one when it had moved elsewhere;
        the next response's begin when `begin_next` is given). Finishing one action and
        beginning the next is one statement: a round trip less per action, and the next
        action's clock starts when this one ends."""
        moves = [
            repository.Move(
                response_id,
                [IN_PROGRESS, PENDING],
                status,
                attempts=attempts,
                error=error,
                clear_error=status == SUCCEEDED,
                note=error,
            )
        ]
        if begin_next is not None:
            moves.append(_begin_move(begin_next, 1))
        async with self._statement() as conn:
            moved = await repository.transitions(conn, moves, actor=SYSTEM)
            finished = status if response_id in moved else await _current(conn, response_id)
            if begin_next is None:
                return finished, None
            if begin_next in moved:
                return finished, (moved[begin_next], None)
            return finished, (None, await _current(conn, begin_next))

    async def _execute(
        self,
        incident_id: str,
        item: dict[str, Any],
        facts: dict[str, Any],
        attempt: int,
        timeout_s: float,
    ) -> dict[str, Any]:
        executor = self.executors.get(item["action_type"])
        if executor is None:
            return {
                "ok": False,
                "retryable": False,
                "error": f"no executor for {item['action_type']}",
            }
        ctx = ActionContext(
            response_id=item["response_id"],
            incident_id=incident_id,
            action_type=item["action_type"],
            params=dict(item["parameters"]),
            incident=dict(facts),
            attempt=attempt,
            timeout_s=max(0.1, timeout_s),
        )
        try:
            details = await executor.execute(ctx)
        except ActionFailed as exc:
            return {"ok": False, "retryable": exc.retryable, "error": str(exc)[:1000]}
        except ActionSkipped as exc:
            return {"ok": False, "skipped": True, "retryable": False, "error": str(exc)[:1000]}
        except Exception as exc:  # a bug in an executor must not kill the workflow
            log.exception("executor %s raised", item["action_type"])
            return {
                "ok": False,
                "retryable": True,
                "error": f"executor error: {type(exc).__name__}",
            }
        return {"ok": True, "details": details}

    async def _attempt(
        self,
        incident_id: str,
        item: dict[str, Any],
        attempt: int,
        facts: dict[str, Any] | None,
        begun: Begun | None = None,
        next_id: str | None = None,
    ) -> _Tried:
        """One attempt of one action: begin (in_progress; `begun` when the previous action's
        finish already did it), the call, and its outcome (succeeded / failed, or the failure
        noted with the backoff before the next attempt). When the action ends, `next_id` (the
        next action, if any) is begun in the same statement. `facts`: the incident as the
        executors see it, read when None and the action runs. Safe to run again after a
        crash: each transition is guarded (a finished response is not begun again), and the
        call carries `Idempotency-Key` = `response_id`."""
        rid = item["response_id"]
        moved, current = begun if begun is not None else await self._begin(rid, attempt)
        if moved is None:
            return _Tried(status=current, facts=facts)
        # Both times are the database's (the transition's now() and the first start).
        remaining = float(moved["deadline_s"]) - (
            (moved["updated_at"] - moved["started_at"]).total_seconds()
        )
        # The deadline bounds the retries, not the first try: an action is always attempted
        # once, even when a worker crash or a backlog held it past its deadline before its
        # first call (the clock starts at its first begin). Failing it "after 0 attempts"
        # left an incident without the response its policy chose, with nothing tried.
        if remaining <= 0 and attempt > 1:
            msg = f"deadline of {item['deadline_s']:g}s passed after {attempt - 1} attempts"
            status, next_begun = await self._finish(rid, FAILED, msg, attempt - 1, next_id)
            return _Tried(status=status, facts=facts, next_begun=next_begun)
        if facts is None:
            facts = await self._facts(incident_id)
        http_timeout = self.http_timeout_s
        timeout = min(remaining, http_timeout) if remaining > 0 else http_timeout
        result = await self._execute(incident_id, item, facts, attempt, timeout)
        if result["ok"]:
            status, next_begun = await self._finish(rid, SUCCEEDED, None, attempt, next_id)
            return _Tried(status=status, facts=facts, next_begun=next_begun)
        if result.get("skipped"):  # its target is not configured: nothing was attempted
            status, next_begun = await self._finish(rid, SKIPPED, result["error"], 0, next_id)
            return _Tried(status=status, facts=facts, next_begun=next_begun)
        if not result["retryable"] or attempt == int(item["max_attempts"]) or remaining <= 0:
            status, next_begun = await self._finish(rid, FAILED, result["error"], attempt, next_id)
            return _Tried(status=status, facts=facts, next_begun=next_begun)
        delay = min(BACKOFF_BASE_S * 2 ** (attempt - 1), BACKOFF_CAP_S, remaining)
        async with self._statement() as conn:
            await repository.note_attempt_failed(conn, rid, attempt, result["error"], delay)
        return _Tried(retry_in_s=delay, facts=facts)

    async def run_items(
        self, incident_id: str, items: list[dict[str, Any]], attempt: int, blocked_by: str | None
    ) -> dict[str, Any]:
        """Run `items` in order, as ONE durable step, until all are done or one needs a
        backoff before its next attempt: the first item's attempt is `attempt`, the others
        start at 1. Returns {"outcomes": {response_id: status}, "blocked_by": ..., "retry":
        None | {"index", "attempt", "in_s"}}; the workflow sleeps durably and runs the rest.

        One step for the whole run rather than one per attempt: DBOS checkpoints every step
        with a read and a write through its own connection pool, which was most of an
        action's cost. Re-running the step after a crash (or a database error, which DBOS
        retries) is safe: responses already finished are found finished by their guarded
        begin, without a second call, and an interrupted call is repeated under the same
        idempotency key, as a re-run attempt always was. An action that stops the others
        when it fails does not begin the next one with its finish."""
        outcomes: dict[str, str] = {}
        facts: dict[str, Any] | None = None
        begun: Begun | None = None
        for index, item in enumerate(items):
            rid = item["response_id"]
            if blocked_by is not None:
                msg = f"skipped: {blocked_by} failed and stops the actions after it"
                outcomes[rid], _ = await self._finish(rid, SKIPPED, msg, 0)
                continue
            tried = attempt if index == 0 else 1
            last = index + 1 == len(items)
            next_id = None if last or item["stop_on_failure"] else items[index + 1]["response_id"]
            run = await self._attempt(incident_id, item, tried, facts, begun, next_id)
            facts, begun = run.facts, run.next_begun
            if run.retry_in_s is not None:
                retry = {"index": index, "attempt": tried + 1, "in_s": run.retry_in_s}
                return {"outcomes": outcomes, "blocked_by": blocked_by, "retry": retry}
            outcomes[rid] = str(run.status)
            if outcomes[rid] == FAILED and item["stop_on_failure"]:
                blocked_by = rid
        return {"outcomes": outcomes, "blocked_by": blocked_by, "retry": None}


@DBOS.dbos_class("responses")
class ResponseWorkflows(DBOSConfiguredInstance):
    """The response workflow and its steps, on the worker's resources."""

    def __init__(self, resources: Resources, executors: Mapping[str, ActionExecutor]) -> None:
        self.pool = resources.pool
        self.start_now = resources.start_now
        self.runner = ResponseRunner(
            resources.pool, executors, resources.settings.action_http_timeout_s
        )
        super().__init__(INSTANCE)

    @DBOS.step(name="responses.load", **DB_STEP)
    async def load_step(
        self, incident_id: str, response_ids: list[str] | None
    ) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            return (await pending_items(conn, [incident_id], response_ids)).get(incident_id, [])

    @DBOS.step(name="responses.run_items", **DB_STEP)
    async def run_step(
        self, incident_id: str, items: list[dict[str, Any]], attempt: int, blocked_by: str | None
    ) -> dict[str, Any]:
        """One durable step for a whole run of actions (see `ResponseRunner.run_items`)."""
        return await self.runner.run_items(incident_id, items, attempt, blocked_by)

    @DBOS.workflow(name="responses.run")
    async def run_responses(
        self,
        incident_id: str,
        response_ids: list[str] | None,
        items: list[dict[str, Any]] | None = None,
    ) -> dict[str, str]:
        """Run the incident's pending responses in order; a failure stops the rest only when
        the failed action says `stop_on_failure`. `items` are the responses as the intake read
        them when it started the workflow (saving the workflow a checkpointed load step); a
        response cancelled since is found skipped when its attempt begins. Between attempts
        of a failing action the workflow sleeps durably (DBOS), so a restart neither shortens
        nor repeats a backoff."""
        if items is None:
            items = await self.load_step(incident_id, response_ids)
        outcomes: dict[str, str] = {}
        attempt, blocked_by = 1, None
        while items:
            run = await self.run_step(incident_id, items, attempt, blocked_by)
            outcomes.update(run["outcomes"])
            blocked_by = run["blocked_by"]
            retry = run["retry"]
            if retry is None:
                break
            await DBOS.sleep_async(float(retry["in_s"]))
            items = items[int(retry["index"]) :]
            attempt = int(retry["attempt"])
        return outcomes

    async def start(
        self,
        workflow_id: str,
        incident_id: str,
        response_ids: list[str] | None,
        items: list[dict[str, Any]] | None = None,
    ) -> None:
        await self.start_now(self.run_responses, workflow_id, incident_id, response_ids, items)

    async def on_retry(self, conn: AsyncConn, rows: list[dict[str, Any]]) -> None:
        """The inbox handler of `response_retry` rows."""
        for row in rows:
            await self.start(row["workflow_id"], row["incident_id"], row["args"]["response_ids"])
