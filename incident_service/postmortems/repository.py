"""SQL for post-mortems: the incident's record as the document is built from it, and the
stored documents. Tables other issues add (alerts, integration links) are read only when
they exist, so a post-mortem never fails for want of them."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, fetch_all, fetch_one


async def table_exists(conn: AsyncConn, name: str) -> bool:
    row = await fetch_one(conn, "select to_regclass(%s) is not null as present", (name,))
    return bool(row and row["present"])


async def get_incident(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    return await fetch_one(conn, "select * from incidents where incident_id = %s", (incident_id,))


async def timeline(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select id, kind, actor, from_status, to_status, note, details, occurred_at"
        " from incident_timeline where incident_id = %s order by occurred_at, id",
        (incident_id,),
    )


async def first_alert_at(conn: AsyncConn, incident_id: str) -> dict[str, Any]:
    if not await table_exists(conn, "alerts"):
        return {"first_at": None, "alerts": 0}
    row = await fetch_one(
        conn,
        "select min(received_at) as first_at, count(*) as alerts from alerts"
        " where incident_id = %s",
        (incident_id,),
    )
    return row or {"first_at": None, "alerts": 0}


async def automated_responses(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select * from automated_responses where incident_id = %s order by executed_at nulls last,"
        " response_id",
        (incident_id,),
    )


async def integration_links(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    if not await table_exists(conn, "integration_links"):
        return []
    return await fetch_all(
        conn,
        "select system, remote_id, remote_key, remote_url, remote_status, last_synced_at"
        " from integration_links where incident_id = %s order by id",
        (incident_id,),
    )


async def stakeholder_updates(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    """The incident's stakeholder updates, oldest first."""
    if not await table_exists(conn, "incident_updates"):
        return []
    return await fetch_all(
        conn,
        "select posted_at, status, message, posted_by from incident_updates"
        " where incident_id = %s order by posted_at, id",
        (incident_id,),
    )


async def roles_held(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    """Every holding of a role on the incident, in the order they were taken."""
    if not await table_exists(conn, "incident_role_assignments"):
        return []
    return await fetch_all(
        conn,
        "select a.role, a.user_id::text as user_id, u.name, a.assumed_at, a.relieved_at"
        " from incident_role_assignments a join users u on u.id = a.user_id"
        " where a.incident_id = %s order by a.assumed_at, a.id",
        (incident_id,),
    )


async def prediction_at_open(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    """The served model's first prediction for the incident (made when it opened)."""
    return await fetch_one(
        conn,
        "select model_name, model_version, severity_probabilities, suggested_severity,"
        " ttr_p10_hours, ttr_p50_hours, ttr_p90_hours from incident_predictions"
        " where incident_id = %s and trigger = 'created' order by id limit 1",
        (incident_id,),
    )


_STORED = (
    "incident_id, resolved_at, document, markdown, generated_by, generated_at, state, version,"
    " published_at, published_by"
)


async def get_stored(
    conn: AsyncConn, incident_id: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    lock = " for update" if for_update else ""
    return await fetch_one(
        conn, f"select {_STORED} from postmortems where incident_id = %s{lock}", (incident_id,)
    )


_INC = (
    "inc as (select incident_id, assigned_team, severity from incidents"
    " where incident_id = %(incident_id)s)"
)


def _state_changed(source: str, from_state: str, note: str) -> tuple[str, str]:
    """The timeline entry and event of a move of the post-mortem of each row of `source`."""
    entry = timeline_entry(
        "postmortem_state_changed",
        source=source,
        actor="%(actor)s::text",
        note=note,
        details=json_object(from_state=from_state, to_state="state", version="version"),
    )
    event = outbox_event(
        "postmortem_state_changed",
        source=f"{source} join inc using (incident_id)",
        payload=json_object(
            "incident_id",
            "assigned_team",
            "severity",
            "version",
            from_state=from_state,
            to_state="state",
            actor="%(actor)s::text",
        ),
    )
    return entry, event


# A published post-mortem is never overwritten: regenerating it starts the next version,
# a draft, and that move is recorded like any other.
_REOPENED = _state_changed("reopened", "'published'::text", "'regenerated from the record'")
_STORE = f"""
with {_INC}, prev as (
    select state from postmortems where incident_id = %(incident_id)s
), saved as (
    insert into postmortems (incident_id, resolved_at, document, markdown, generated_by)
    values (%(incident_id)s, %(resolved_at)s, %(document)s, %(markdown)s, %(actor)s)
    on conflict (incident_id) do update set resolved_at = excluded.resolved_at,
        document = excluded.document, markdown = excluded.markdown,
        generated_by = excluded.generated_by, generated_at = now(),
        version = postmortems.version
            + case when postmortems.state = 'published' then 1 else 0 end,
        state = case when postmortems.state = 'published' then 'draft' else postmortems.state end,
        published_at = case when postmortems.state = 'published' then null
                            else postmortems.published_at end,
        published_by = case when postmortems.state = 'published' then null
                            else postmortems.published_by end,
        state_changed_by = case when postmortems.state = 'published' then excluded.generated_by
                                else postmortems.state_changed_by end,
        state_changed_at = case when postmortems.state = 'published' then now()
                                else postmortems.state_changed_at end
    returning {_STORED}
), reopened as (
    select saved.* from saved join prev on prev.state = 'published'
), reopened_entry as ({_REOPENED[0]}), reopened_event as ({_REOPENED[1]})
select {_STORED} from saved
"""


async def store(
    conn: AsyncConn,
    incident_id: str,
    resolved_at: Any,
    document: dict[str, Any],
    markdown: str,
    generated_by: str,
) -> dict[str, Any]:
    """Store the generated post-mortem; its row as stored (state, version)."""
    row = await fetch_one(
        conn,
        _STORE,
        {
            "incident_id": incident_id,
            "resolved_at": resolved_at,
            "document": Jsonb(document),
            "markdown": markdown,
            "actor": generated_by,
        },
    )
    assert row is not None  # an upsert of one row
    return row


_MOVED = _state_changed("moved", "%(from)s::text", "%(note)s::text")
_MOVE = f"""
with {_INC}, moved as (
    update postmortems set state = %(to)s::text,
        version = version + case when %(next_version)s::boolean then 1 else 0 end,
        document = coalesce(%(document)s::jsonb, document),
        markdown = coalesce(%(markdown)s::text, markdown),
        published_at = case when %(to)s::text = 'published' then %(published_at)s::timestamptz
                            when %(next_version)s::boolean then null else published_at end,
        published_by = case when %(to)s::text = 'published' then %(actor)s::text
                            when %(next_version)s::boolean then null else published_by end,
        state_changed_by = %(actor)s::text, state_changed_at = now()
    where incident_id = %(incident_id)s
    returning {_STORED}
), frozen as (
    insert into postmortem_versions (
        incident_id, version, document, markdown, published_by, published_at)
    select incident_id, version, document, markdown, published_by, published_at
    from moved where state = 'published'
), moved_entry as ({_MOVED[0]}), moved_event as ({_MOVED[1]})
select {_STORED} from moved
"""


async def move(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any]:
    """Move the (locked) post-mortem to `to`; publishing freezes the version given in
    `document`; `next_version` starts the next one."""
    params = dict(values)
    if params.get("document") is not None:
        params["document"] = Jsonb(params["document"])
    row = await fetch_one(conn, _MOVE, params)
    assert row is not None  # the caller locked the row it moves
    return row


async def published_version(
    conn: AsyncConn, incident_id: str, version: int
) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        "select version, document, published_at, published_by from postmortem_versions"
        " where incident_id = %s and version = %s",
        (incident_id, version),
    )


async def published_versions(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select version, published_at, published_by from postmortem_versions"
        " where incident_id = %s order by version",
        (incident_id,),
    )


async def resolved_without_postmortem(
    conn: AsyncConn, after: Any, limit: int = 100
) -> list[dict[str, Any]]:
    """Resolved incidents whose post-mortem is missing or describes an older resolution."""
    return await fetch_all(
        conn,
        "select i.incident_id, i.resolved_at from incidents i"
        " left join postmortems p using (incident_id)"
        " where i.resolved_at is not null and i.resolved_at > %s"
        " and (p.incident_id is null or p.resolved_at is distinct from i.resolved_at)"
        " order by i.resolved_at, i.incident_id limit %s",
        (after, limit),
    )
