"""SQL for alert groups and alert records. No rules here."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.changes import json_object, timeline_entry
from incident_service.db import AsyncConn, fetch_all, fetch_one


async def lock_key(conn: AsyncConn, integration_id: UUID, dedup_key: str) -> None:
    """Serialise everything done for one (integration, dedup key) until the transaction
    ends, so concurrent triggers of one key open one incident between them."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{integration_id}:{dedup_key}",)
    )


# The group's incident, or when it was merged the incident it was merged into, followed
# down a chain of merges (A into B, B into C) to the end: a merge re-points the groups it
# finds, and this catches a group read just before a merge committed.
_OPEN_GROUP = """
with recursive g as (
    select id, incident_id, status, members from alert_groups
    where integration_id = %s and dedup_key = %s and status <> 'resolved'
), chain as (
    select g.incident_id as id, 0 as depth from g
    union all
    select i.merged_into, chain.depth + 1 from chain join incidents i on i.incident_id = chain.id
    where i.merged_into is not null and chain.depth < 100
)
select g.id, i.incident_id, g.status, g.members, i.status as incident_status
from g, lateral (select id from chain order by depth desc limit 1) as last
join incidents i on i.incident_id = last.id
"""


async def open_group(
    conn: AsyncConn, integration_id: UUID, dedup_key: str
) -> dict[str, Any] | None:
    return await fetch_one(conn, _OPEN_GROUP, (integration_id, dedup_key))


async def others_open(conn: AsyncConn, incident_id: str, group_id: int) -> bool:
    """Whether another alert group of the incident is still open (an incident that took
    others' groups in a merge)."""
    row = await fetch_one(
        conn,
        "select exists (select 1 from alert_groups where incident_id = %s and id <> %s"
        " and status <> 'resolved') as open",
        (incident_id, group_id),
    )
    return bool(row and row["open"])


async def insert_group(
    conn: AsyncConn, integration_id: UUID, dedup_key: str, incident_id: str
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "insert into alert_groups (integration_id, dedup_key, incident_id) values (%s, %s, %s)"
        " returning id, incident_id, status, members",
        (integration_id, dedup_key, incident_id),
    )
    assert row is not None
    return row


async def update_group(
    conn: AsyncConn, group_id: int, status: str, members: dict[str, str], counted: int
) -> None:
    await conn.execute(
        "update alert_groups set status = %s, members = %s, alert_count = alert_count + %s,"
        " updated_at = now() where id = %s",
        (status, Jsonb(members), counted, group_id),
    )


_ALERT_ENTRY = timeline_entry(
    "alert",
    source="a",
    actor="%(actor)s",
    note="summary",
    details=json_object("action", "dedup_key", "severity", alert_id="id"),
    occurred_at="received_at",
    where="incident_id is not null",
)
_INSERT_ALERT = f"""
with a as (
    insert into alerts (integration_id, group_id, incident_id, dedup_key, action, summary,
                        severity, source, payload)
    values (%(integration_id)s, %(group_id)s, %(incident_id)s, %(dedup_key)s, %(action)s,
            %(summary)s, %(severity)s, %(source)s, %(payload)s)
    returning id, incident_id, dedup_key, action, summary, severity, received_at
), t as ({_ALERT_ENTRY}
), g as (
    update alert_groups set status = %(group_status)s, members = %(members)s,
                            alert_count = alert_count + 1, updated_at = now()
    where id = %(group_id)s and %(group_status)s::text is not null
)
select id from a
"""


async def insert_alert(
    conn: AsyncConn, values: dict[str, Any], group_update: dict[str, Any] | None
) -> int:
    """The alert, its timeline entry and its group's new state, in one statement (most
    alerts do nothing else, so this is most of an alert's cost)."""
    update = group_update or {"status": None, "members": {}}
    row = await fetch_one(
        conn,
        _INSERT_ALERT,
        values
        | {
            "payload": Jsonb(values["payload"]),
            "group_status": update["status"],
            "members": Jsonb(update["members"]),
        },
    )
    assert row is not None
    return int(row["id"])


async def insert_change(
    conn: AsyncConn, integration_id: UUID, event: dict[str, Any], occurred_at: datetime | None
) -> None:
    payload = event["payload"]
    await conn.execute(
        "insert into change_events (integration_id, summary, source, occurred_at, payload)"
        " values (%s, %s, %s, %s, %s)",
        (integration_id, payload["summary"], payload.get("source"), occurred_at, Jsonb(event)),
    )


async def alerts_for(conn: AsyncConn, incident_id: str, limit: int) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select id, integration_id::text, incident_id, dedup_key, action, summary, severity,"
        " source, payload, received_at from alerts where incident_id = %s order by id limit %s",
        (incident_id, limit),
    )
