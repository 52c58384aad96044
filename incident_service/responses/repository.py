"""SQL for automated responses. Every status change is one statement that also writes
the incident's timeline entry and an `automated_response_updated` outbox event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one
from incident_service.responses.lifecycle import check_moves

RESPONSE_COLUMNS = """
    r.response_id, r.incident_id, r.action_type, r.action_details, r.execution_status,
    r.executed_at, r.position, r.parameters, r.policy_id, r.attempts, r.max_attempts,
    r.deadline_s, r.stop_on_failure, r.last_error, r.started_at, r.created_at,
    r.updated_at, r.updated_by
"""

_MOVED = "previous_status is distinct from execution_status"
# What a subscriber and a reader of the timeline are told of a response's move.
_CHANGE = (
    "response_id",
    "action_type",
    "previous_status",
    "execution_status",
    "attempts",
    "last_error",
)
_CHANGED_ENTRY = timeline_entry(
    "response_status_changed",
    source="upd",
    actor="%(actor)s::text",
    note="note",
    details=json_object(*_CHANGE),
    where=_MOVED,
    order_by="ord",
)
_CHANGED_EVENT = outbox_event(
    "automated_response_updated",
    source="upd",
    payload=json_object("incident_id", *_CHANGE, actor="%(actor)s::text"),
    where=_MOVED,
    order_by="ord",
)
# A retried attempt's failure: on the timeline once per attempt however often the step
# re-runs, and not an event (nothing a subscriber acts on).
_ATTEMPT_FAILED_ENTRY = timeline_entry(
    "response_attempt_failed",
    source="upd",
    actor="'system'",
    note="%(error)s::text",
    details=json_object(
        "response_id",
        "action_type",
        attempt="%(attempt)s::int",
        retry_in_s="%(retry_in_s)s::float8",
    ),
    where="""not exists (
        select 1 from incident_timeline t
        where t.incident_id = upd.incident_id and t.kind = 'response_attempt_failed'
          and t.details ->> 'response_id' = upd.response_id
          and (t.details ->> 'attempt')::int = %(attempt)s::int)""",
)
_ATTEMPT_FAILED = compact_sql(f"""
with upd as (
    update automated_responses set last_error = %(error)s::text, updated_at = now()
    where response_id = %(rid)s and execution_status = 'in_progress'
    returning incident_id, response_id, action_type
) {_ATTEMPT_FAILED_ENTRY}
""")

# `from_any` guards each move: a response already moved elsewhere (cancelled by a person,
# finished by a retried step) is left alone and nothing is returned for it, which makes
# every transition safe to repeat. Several moves go in one statement (`transitions`): the
# worker finishes one action and begins the next in one round trip. `ord` keeps their
# timeline entries and events in the order given.
_TRANSITIONS = compact_sql(f"""
with req as (
    select * from unnest(
        %(response_ids)s::text[], %(from_any)s::text[], %(tos)s::text[], %(attempts)s::int[],
        %(errors)s::text[], %(clear_errors)s::boolean[], %(notes)s::text[]
    ) with ordinality as q(response_id, from_any, to_status, attempts, error, clear_error,
                           note, ord)
), old as (
    select r.response_id, r.execution_status as previous_status, req.to_status,
           req.attempts as new_attempts, req.error, req.clear_error, req.note, req.ord
    from automated_responses r join req on req.response_id = r.response_id
    where r.execution_status = any(string_to_array(req.from_any, ','))
    for update of r
), upd as (
    update automated_responses r set
        execution_status = old.to_status,
        attempts = coalesce(old.new_attempts, r.attempts),
        last_error = case when old.clear_error then null
                          else coalesce(old.error, r.last_error) end,
        started_at = case when old.to_status = 'in_progress' then coalesce(r.started_at, now())
                          when old.to_status = 'pending' then null else r.started_at end,
        executed_at = case when old.to_status in ('succeeded', 'failed', 'skipped') then now()
                           when old.to_status = 'pending' then null else r.executed_at end,
        updated_at = now(),
        updated_by = %(actor)s::text
    from old
    where r.response_id = old.response_id
    returning {RESPONSE_COLUMNS}, old.previous_status, old.note, old.ord
), timeline as ({_CHANGED_ENTRY}
), event as ({_CHANGED_EVENT}
)
select * from upd order by ord
""")


@dataclass(frozen=True)
class Move:
    """One response's transition: from any of `from_any` to `to`."""

    response_id: str
    from_any: Sequence[str]
    to: str
    attempts: int | None = None
    error: str | None = None
    clear_error: bool = False
    note: str | None = None

    def __post_init__(self) -> None:
        check_moves(self.from_any, self.to)


async def transitions(
    conn: AsyncConn, moves: list[Move], *, actor: str
) -> dict[str, dict[str, Any]]:
    """Make `moves` in one statement; the moved rows by response_id (a response not in
    any of its `from_any` is left alone and absent). Only an actual change of status goes
    on the timeline and into the event feed, in the order of `moves`."""
    rows = await fetch_all(
        conn,
        _TRANSITIONS,
        {
            "response_ids": [m.response_id for m in moves],
            "from_any": [",".join(m.from_any) for m in moves],
            "tos": [m.to for m in moves],
            "attempts": [m.attempts for m in moves],
            "errors": [m.error for m in moves],
            "clear_errors": [m.clear_error for m in moves],
            "notes": [m.note for m in moves],
            "actor": actor,
        },
    )
    moved: dict[str, dict[str, Any]] = {}
    for row in rows:
        row.pop("note")
        row.pop("ord")
        moved[row["response_id"]] = row
    return moved


async def transition(
    conn: AsyncConn,
    response_id: str,
    *,
    from_any: Sequence[str],
    to: str,
    actor: str,
    attempts: int | None = None,
    error: str | None = None,
    clear_error: bool = False,
    note: str | None = None,
) -> dict[str, Any] | None:
    """Move one response; None when it was not in any of `from_any`."""
    move = Move(response_id, from_any, to, attempts, error, clear_error, note)
    return (await transitions(conn, [move], actor=actor)).get(response_id)


async def note_attempt_failed(
    conn: AsyncConn, response_id: str, attempt: int, error: str, retry_in_s: float
) -> None:
    """A failed attempt that will be retried: on the row and the timeline, not an event."""
    await conn.execute(
        _ATTEMPT_FAILED,
        {"rid": response_id, "error": error, "attempt": attempt, "retry_in_s": retry_in_s},
    )


async def get_response(
    conn: AsyncConn, response_id: str, team: str | None = None
) -> dict[str, Any] | None:
    """The response; with `team`, only when its incident is that team's."""
    if team is None:
        return await fetch_one(
            conn,
            f"select {RESPONSE_COLUMNS} from automated_responses r where r.response_id = %s",
            (response_id,),
        )
    return await fetch_one(
        conn,
        f"select {RESPONSE_COLUMNS} from automated_responses r"
        " join incidents i on i.incident_id = r.incident_id"
        " where r.response_id = %s and i.assigned_team = %s",
        (response_id, team),
    )


async def list_for_incident(
    conn: AsyncConn, incident_id: str, team: str | None
) -> list[dict[str, Any]]:
    """The incident's responses in policy order; none when the incident is not `team`'s."""
    return await fetch_all(
        conn,
        f"select {RESPONSE_COLUMNS} from automated_responses r"
        " join incidents i on i.incident_id = r.incident_id"
        " where r.incident_id = %s and (%s::text is null or i.assigned_team = %s)"
        " order by r.position, r.created_at",
        (incident_id, team, team),
    )


async def get_decision(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        "select policy_version, matched, not_matched, inputs, decided_at from response_decisions"
        " where incident_id = %s",
        (incident_id,),
    )


async def incident_facts(
    conn: AsyncConn, incident_id: str, team: str | None = None
) -> dict[str, Any] | None:
    """What the policies match on; with `team`, only when the incident is that team's."""
    return await fetch_one(
        conn,
        "select incident_id, title, severity, status, assigned_team, affected_services, labels"
        " from incidents where incident_id = %s and (%s::text is null or assigned_team = %s)",
        (incident_id, team, team),
    )


async def enqueue(
    conn: AsyncConn, kind: str, workflow_id: str, incident_id: str, args: dict[str, Any]
) -> None:
    """A durable cue for the worker, committed with the change that needs it."""
    await conn.execute(
        "insert into workflow_inbox (kind, workflow_id, incident_id, args)"
        " values (%s, %s, %s, %s) on conflict (workflow_id) do nothing",
        (kind, workflow_id, incident_id, Jsonb(args)),
    )
