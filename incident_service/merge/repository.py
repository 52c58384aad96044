"""SQL of a merge: the locks, and the one statement that folds the sources into the
target with every record of the change. No rules here.

What moves from a source to the target is a list of CTE builders (`ATTACH`): each takes
the parameters' names and returns a data-modifying CTE body that re-points one table's
rows from the sources (`%(sources)s`) to the target (`%(target)s`). A table that belongs
to an incident and should follow it (notes, follow-ups) joins the merge by one more
entry there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all
from incident_service.incidents.repository import status_changed_event


def _repoint(table: str, column: str = "incident_id") -> Callable[[], str]:
    """A builder re-pointing `table.column` from the sources to the target."""

    def build() -> str:
        return (
            f"update {table} set {column} = %(target)s::text"
            f" where {column} = any(%(sources)s::text[]) returning 1"
        )

    return build


# (CTE name, builder): what a merged source hands to its target. Alert groups move with
# their open dedup keys, so a later alert of a source's key feeds the target.
ATTACH: list[tuple[str, Callable[[], str]]] = [
    ("attach_alert_groups", _repoint("alert_groups")),
    ("attach_alerts", _repoint("alerts")),
    ("attach_notes", _repoint("incident_notes")),
    # Follow-ups move too, but a review's item whose title the target's review already has
    # stays with the source (one item per title per review): the target keeps its own.
    (
        "attach_follow_ups",
        lambda: (
            "update follow_ups f set incident_id = %(target)s::text"
            " where f.incident_id = any(%(sources)s::text[]) and not (f.source = 'review'"
            " and exists (select 1 from follow_ups t where t.incident_id = %(target)s::text"
            " and t.source = 'review' and lower(t.title) = lower(f.title))) returning 1"
        ),
    ),
]


async def lock_incidents(
    conn: AsyncConn, incident_ids: list[str], team: str | None
) -> dict[str, dict[str, Any]]:
    """Lock the incidents the caller may see among `incident_ids`, in id order (two merges
    over the same incidents then queue instead of deadlocking); by id."""
    return {
        row["incident_id"]: row
        for row in await fetch_all(
            conn,
            "select incident_id, status, assigned_team, merged_into from incidents"
            " where incident_id = any(%s::text[]) and (%s::text is null or assigned_team = %s)"
            " order by incident_id for update",
            (incident_ids, team, team),
        )
    }


async def lock_alert_keys(conn: AsyncConn, sources: list[str]) -> None:
    """Take the per-key locks of the sources' open alert groups, which alert intake takes
    first (alerts.repository.lock_key): an alert of such a key waits for the merge and
    then finds its group on the target. Called before the incidents are locked, in the
    order intake takes them (key, then incident)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(k, 0)) from ("
        " select integration_id::text || ':' || dedup_key as k from alert_groups"
        " where incident_id = any(%s::text[]) and status <> 'resolved' order by 1) as keys",
        (sources,),
    )


_SOURCE_ENTRY = timeline_entry(
    "merged_into",
    source="src",
    actor="%(actor)s::text",
    from_status="previous_status",
    to_status="status",
    note="nullif(%(reason)s::text, '')",
    details=json_object("merged_into"),
    occurred_at="merged_at",
)
_TARGET_ENTRY = timeline_entry(
    "merged_from",
    source="src",
    incident_id="merged_into",
    actor="%(actor)s::text",
    note="nullif(%(reason)s::text, '')",
    details=json_object(
        merged_from="incident_id", previous_status="previous_status", title="title"
    ),
    occurred_at="merged_at",
)
# The status change is an event too: the vendor syncs resolve the source's remote
# records, the escalation's watcher wakes and stops it, subscribers see the move.
_STATUS_EVENT = status_changed_event(
    "src",
    previous_status="previous_status",
    on_behalf_of="null::text",
    note="nullif(%(reason)s::text, '')",
    created_at="merged_at",
)
_MERGED_EVENT = outbox_event(
    "incident_merged",
    source="src",
    payload=json_object(
        "incident_id",
        "merged_into",
        "previous_status",
        "severity",
        "assigned_team",
        actor="%(actor)s::text",
        reason="%(reason)s::text",
    ),
    created_at="merged_at",
)
# The sources' automated responses still to run stop, as a person's cancel does.
_RESPONSE_CHANGE = ("response_id", "action_type", "previous_status", "execution_status")
_RESPONSES_ENTRY = timeline_entry(
    "response_status_changed",
    source="skipped",
    actor="%(actor)s::text",
    note="last_error",
    details=json_object(*_RESPONSE_CHANGE, "attempts", "last_error"),
)
_RESPONSES_EVENT = outbox_event(
    "automated_response_updated",
    source="skipped",
    payload=json_object(
        "incident_id", *_RESPONSE_CHANGE, "attempts", "last_error", actor="%(actor)s::text"
    ),
)


def merge_statement() -> str:
    """The whole merge as one statement (built per call so `ATTACH` can grow)."""
    attach = "".join(f", {name} as ({build()})" for name, build in ATTACH)
    return compact_sql(f"""
with old as (
    select incident_id, status as previous_status from incidents
    where incident_id = any(%(sources)s::text[])
), src as (
    update incidents i set
        status = 'MERGED', merged_into = %(target)s::text, merged_at = now(),
        merged_by = %(actor)s::text, updated_at = now()
    from old
    where i.incident_id = old.incident_id
    returning i.incident_id, i.status, i.severity, i.assigned_team, i.reopen_count, i.title,
              i.merged_into, i.merged_at, old.previous_status
), target as (
    update incidents set updated_at = now() where incident_id = %(target)s::text
    returning incident_id
), escalation as (
    update incident_escalations set stopped_reason = 'merged into ' || %(target)s::text,
                                    updated_at = now()
    where incident_id = any(%(sources)s::text[]) and stopped_reason is null
    returning 1
), stopping as (
    select response_id, execution_status as previous_status from automated_responses
    where incident_id = any(%(sources)s::text[])
      and execution_status in ('pending', 'in_progress')
    for update
), skipped as (
    update automated_responses r set
        execution_status = 'skipped', executed_at = now(), updated_at = now(),
        updated_by = %(actor)s::text,
        last_error = 'the incident was merged into ' || %(target)s::text
    from stopping
    where r.response_id = stopping.response_id
    returning r.incident_id, r.response_id, r.action_type, stopping.previous_status,
              r.execution_status, r.attempts, r.last_error
){attach}
, source_timeline as ({_SOURCE_ENTRY}
), target_timeline as ({_TARGET_ENTRY}
), status_event as ({_STATUS_EVENT}
), merged_event as ({_MERGED_EVENT}
), responses_timeline as ({_RESPONSES_ENTRY}
), responses_event as ({_RESPONSES_EVENT}
)
select incident_id from src order by incident_id
""")


async def merge(
    conn: AsyncConn, *, target: str, sources: list[str], actor: str, reason: str
) -> list[str]:
    """Fold `sources` (locked, checked) into `target`; the merged ids."""
    return [
        row["incident_id"]
        for row in await fetch_all(
            conn,
            merge_statement(),
            {"target": target, "sources": sources, "actor": actor, "reason": reason},
        )
    ]
