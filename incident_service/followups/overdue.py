"""Overdue follow-ups are said once: a sweep round of the worker (`updates/workflows.py`
runs it beside the update reminders) raises, for each follow-up still to do whose due
instant has passed, one `follow_up_overdue` timeline entry on its incident and one event.

One statement per batch: the follow-ups are marked with the due instant they were raised
for (`overdue_raised_for`, migration 0095), and their entries and events written, together;
rows are taken `for update skip locked` and the mark is re-checked under the lock, so a
round re-run after a crash, or run by two workers, raises nothing twice. Moving the due
date later arms the follow-up again; closing it before its due date means it never raises.
"""

from __future__ import annotations

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all

SYSTEM = "system"

_FIELDS = json_object(
    "incident_id",
    "assigned_team",
    "severity",
    "title",
    "state",
    "priority",
    "owner_id",
    "due_at",
    follow_up_id="id",
    actor=f"'{SYSTEM}'::text",
)

_NOTE = (
    "'follow-up overdue since ' || to_char(due_at at time zone 'UTC',"
    " 'YYYY-MM-DD HH24:MI') || ' UTC: ' || title"
    " || coalesce(' (owner ' || owner || ')', ' (no owner)')"
)

_RAISE = compact_sql(f"""
with due as (
    select f.id from follow_ups f
    where f.state in ('open', 'in_progress') and f.overdue_raised_for is distinct from f.due_at
      and f.due_at < now()
    order by f.due_at, f.id
    limit %(batch)s
    for update of f skip locked
), fu as (
    update follow_ups f set overdue_raised_for = f.due_at
    from due where f.id = due.id and f.overdue_raised_for is distinct from f.due_at
    returning f.*
), raised as (
    select fu.*, i.assigned_team, i.severity, coalesce(u.name, fu.owner_name) as owner
    from fu join incidents i using (incident_id) left join users u on u.id = fu.owner_id
), entry as ({
    timeline_entry(
        "follow_up_overdue",
        source="raised",
        actor=f"'{SYSTEM}'",
        note=_NOTE,
        details=json_object("due_at", "state", "owner_id", follow_up_id="id"),
        order_by="due_at, id",
    )
}), event as ({
    outbox_event(
        "follow_up_overdue",
        source="raised",
        payload=_FIELDS,
        order_by="due_at, id",
    )
})
select id, incident_id, due_at from raised
""")


async def raise_overdue(conn: AsyncConn, batch: int) -> int:
    """Raise one batch of newly overdue follow-ups; how many."""
    return len(await fetch_all(conn, _RAISE, {"batch": batch}))
