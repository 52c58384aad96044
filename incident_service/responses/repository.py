"""SQL for automated responses. Every status change is one statement that also writes
the incident's timeline entry and an `automated_response_updated` outbox event."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn

RESPONSE_COLUMNS = """
    r.response_id, r.incident_id, r.action_type, r.action_details, r.execution_status,
    r.executed_at, r.position, r.parameters, r.policy_id, r.attempts, r.max_attempts,
    r.deadline_s, r.stop_on_failure, r.last_error, r.started_at, r.created_at,
    r.updated_at, r.updated_by
"""

# `from_any` guards the move: a response already moved elsewhere (cancelled by a person,
# finished by a retried step) is left alone and nothing is returned, which makes every
# transition safe to repeat.
_TRANSITION = f"""
with old as (
    select response_id, execution_status as previous_status
    from automated_responses
    where response_id = %(response_id)s and execution_status = any(%(from_any)s::text[])
    for update
), upd as (
    update automated_responses r set
        execution_status = %(to)s::text,
        attempts = coalesce(%(attempts)s::int, r.attempts),
        last_error = case when %(clear_error)s::boolean then null
                          else coalesce(%(error)s::text, r.last_error) end,
        started_at = case when %(to)s::text = 'in_progress' then coalesce(r.started_at, now())
                          when %(to)s::text = 'pending' then null else r.started_at end,
        executed_at = case when %(to)s::text in ('succeeded', 'failed', 'skipped') then now()
                           when %(to)s::text = 'pending' then null else r.executed_at end,
        updated_at = now(),
        updated_by = %(actor)s::text
    from old
    where r.response_id = old.response_id
    returning {RESPONSE_COLUMNS}, old.previous_status
), timeline as (
    insert into incident_timeline (incident_id, kind, actor, note, details)
    select incident_id, 'response_status_changed', %(actor)s::text, %(note)s::text,
           jsonb_build_object(
               'response_id', response_id, 'action_type', action_type,
               'previous_status', previous_status, 'execution_status', execution_status,
               'attempts', attempts, 'last_error', last_error)
    from upd
    where previous_status is distinct from execution_status
), event as (
    insert into outbox (event_type, incident_id, payload)
    select 'automated_response_updated', incident_id,
           jsonb_build_object(
               'incident_id', incident_id, 'response_id', response_id,
               'action_type', action_type, 'previous_status', previous_status,
               'execution_status', execution_status, 'attempts', attempts,
               'last_error', last_error, 'actor', %(actor)s::text)
    from upd
    where previous_status is distinct from execution_status
)
select * from upd
"""


async def transition(
    conn: AsyncConn,
    response_id: str,
    *,
    from_any: list[str],
    to: str,
    actor: str,
    attempts: int | None = None,
    error: str | None = None,
    clear_error: bool = False,
    note: str | None = None,
) -> dict[str, Any] | None:
    """Move one response; None when it was not in any of `from_any`. Only an actual change
    of status goes on the timeline and into the event feed."""
    cur = await conn.execute(
        _TRANSITION,
        {
            "response_id": response_id,
            "from_any": from_any,
            "to": to,
            "actor": actor,
            "attempts": attempts,
            "error": error,
            "clear_error": clear_error,
            "note": note,
        },
    )
    return await cur.fetchone()


async def note_attempt_failed(
    conn: AsyncConn, response_id: str, attempt: int, error: str, retry_in_s: float
) -> None:
    """A failed attempt that will be retried: on the row and the timeline, not an event."""
    await conn.execute(
        """
        with upd as (
            update automated_responses set last_error = %(error)s::text, updated_at = now()
            where response_id = %(rid)s and execution_status = 'in_progress'
            returning incident_id, response_id, action_type
        )
        insert into incident_timeline (incident_id, kind, actor, note, details)
        select incident_id, 'response_attempt_failed', 'system', %(error)s::text,
               jsonb_build_object('response_id', response_id, 'action_type', action_type,
                                  'attempt', %(attempt)s::int, 'retry_in_s', %(retry_in_s)s::float8)
        from upd
        where not exists (
            select 1 from incident_timeline t
            where t.incident_id = upd.incident_id and t.kind = 'response_attempt_failed'
              and t.details ->> 'response_id' = upd.response_id
              and (t.details ->> 'attempt')::int = %(attempt)s::int)
        """,
        {"rid": response_id, "error": error, "attempt": attempt, "retry_in_s": retry_in_s},
    )


async def get_response(conn: AsyncConn, response_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {RESPONSE_COLUMNS} from automated_responses r where r.response_id = %s",
        (response_id,),
    )
    return await cur.fetchone()


async def list_for_incident(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {RESPONSE_COLUMNS} from automated_responses r"
        " where r.incident_id = %s order by r.position, r.created_at",
        (incident_id,),
    )
    return await cur.fetchall()


async def get_decision(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select policy_version, matched, not_matched, inputs, decided_at from response_decisions"
        " where incident_id = %s",
        (incident_id,),
    )
    return await cur.fetchone()


async def incident_facts(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select incident_id, title, severity, status, assigned_team, affected_services, labels"
        " from incidents where incident_id = %s",
        (incident_id,),
    )
    return await cur.fetchone()


async def enqueue(
    conn: AsyncConn, kind: str, workflow_id: str, incident_id: str, args: dict[str, Any]
) -> None:
    """A durable cue for the worker, committed with the change that needs it."""
    await conn.execute(
        "insert into workflow_inbox (kind, workflow_id, incident_id, args)"
        " values (%s, %s, %s, %s) on conflict (workflow_id) do nothing",
        (kind, workflow_id, incident_id, Jsonb(args)),
    )
