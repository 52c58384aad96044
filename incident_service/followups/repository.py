"""SQL for follow-ups. No business rules here.

Each write is one statement: the follow-up's change, its timeline entry on the incident
and its outbox event are data-modifying CTEs (`incident_service.changes`). Every read
joins the incident, so a team-restricted caller's filter is in the SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.crud import page_where
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one

_OVERDUE = "(f.state in ('open', 'in_progress') and coalesce(f.due_at < now(), false))"
_COLUMNS = f"""
    f.id, f.incident_id, f.title, f.owner_id, coalesce(u.name, f.owner_name) as owner_display,
    f.due_date, f.due_at, {_OVERDUE} as overdue, f.priority, f.state, f.source,
    i.assigned_team as team, f.completed_at, f.external_integration_id, f.external_id,
    f.external_key, f.external_url, f.external_status, f.external_synced_at, f.created_by,
    f.created_at, f.updated_by, f.updated_at"""


def _select(source: str) -> str:
    return (
        f"select {_COLUMNS} from {source} f join incidents i on i.incident_id = f.incident_id"
        " left join users u on u.id = f.owner_id"
    )


# What every follow-up event carries: the dispatcher routes on the team and severity.
def _payload(source: str, **extra: str) -> str:
    return json_object(
        "incident_id",
        "assigned_team",
        "severity",
        of=None,
        follow_up_id=f"{source}.id",
        title=f"{source}.title",
        state=f"{source}.state",
        priority=f"{source}.priority",
        owner_id=f"{source}.owner_id",
        due_at=f"{source}.due_at",
        **extra,
    )


_INC = (
    "inc as (select incident_id, assigned_team, severity from incidents"
    " where incident_id = %(incident_id)s)"
)


def _entry_and_event(
    kind: str,
    source: str,
    *,
    actor: str,
    note: str,
    details: dict[str, str],
    payload: dict[str, str],
    at: str | None = None,
    where: str | None = None,
) -> tuple[str, str]:
    """The timeline entry and the outbox event `kind` of a change of the follow-ups of CTE
    `source` (their incident in CTE `inc`): the follow-up's id beside `details` on the
    entry, `_payload` with `payload` on the event."""
    entry = timeline_entry(
        kind,
        source=source,
        actor=actor,
        note=note,
        details=json_object(follow_up_id=f"{source}.id", **details),
        occurred_at=at,
        where=where,
    )
    event = outbox_event(
        kind,
        source=f"{source} join inc using (incident_id)",
        payload=_payload(source, **payload),
        created_at=at,
        where=where,
    )
    return entry, event


def _recorded(kind: str, **what: Any) -> str:
    """The CTEs `timeline` and `event` of a change of the one follow-up of CTE `fu`."""
    entry, event = _entry_and_event(kind, "fu", **what)
    return f"timeline as ({entry}), event as ({event})"


_CREATE = compact_sql(f"""
with {_INC}, fu as (
    insert into follow_ups (
        incident_id, title, owner_id, due_date, due_at, priority, created_by, updated_by)
    select incident_id, %(title)s, %(owner_id)s, %(due_date)s, %(due_at)s, %(priority)s,
           %(actor)s, %(actor)s
    from inc
    returning *
), {
    _recorded(
        "follow_up_created",
        actor="fu.created_by",
        note="fu.title",
        at="fu.created_at",
        details={"priority": "fu.priority", "owner_id": "fu.owner_id", "due_at": "fu.due_at"},
        payload={"actor": "fu.created_by"},
    )
}
{_select("fu")}
""")


async def insert(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any] | None:
    """The new follow-up (None: the incident does not exist)."""
    return await fetch_one(conn, _CREATE, values)


async def get(
    conn: AsyncConn, follow_up_id: UUID, team: str | None, *, for_update: bool = False
) -> dict[str, Any] | None:
    """One follow-up, of `team`'s incidents only when a team is given."""
    lock = " for update of f" if for_update else ""
    return await fetch_one(
        conn,
        _select("follow_ups")
        + " where f.id = %(id)s and (%(team)s::text is null or i.assigned_team = %(team)s)"
        + lock,
        {"id": follow_up_id, "team": team},
    )


async def of_incident(conn: AsyncConn, incident_id: str, team: str | None) -> list[dict[str, Any]]:
    """The incident's follow-ups, oldest first; none when the incident is not `team`'s."""
    return await fetch_all(
        conn,
        _select("follow_ups") + " where f.incident_id = %s"
        " and (%s::text is null or i.assigned_team = %s) order by f.created_at, f.id",
        (incident_id, team, team),
    )


async def without_owner(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    """The incident's follow-ups that have no owner (those not being done excepted)."""
    return await fetch_all(
        conn,
        "select id, title, state from follow_ups where incident_id = %s and owner_id is null"
        " and state <> 'wont_do' order by created_at, id",
        (incident_id,),
    )


async def incident_exists(conn: AsyncConn, incident_id: str, team: str | None = None) -> bool:
    """Whether the incident exists and, with `team`, is that team's."""
    return (
        await fetch_one(
            conn,
            "select 1 from incidents where incident_id = %s"
            " and (%s::text is null or assigned_team = %s)",
            (incident_id, team, team),
        )
        is not None
    )


async def user_exists(conn: AsyncConn, user_id: UUID) -> bool:
    return (
        await fetch_one(
            conn, "select 1 from users where id = %s and deactivated_at is null", (user_id,)
        )
        is not None
    )


_SEARCH_FILTERS = {
    "team": "i.assigned_team = %(team)s",
    "owner_id": "f.owner_id = %(owner_id)s",
    "state": "f.state = %(state)s",
    "incident_id": "f.incident_id = %(incident_id)s",
    "priority": "f.priority = %(priority)s",
}


async def search(
    conn: AsyncConn,
    *,
    filters: dict[str, Any],
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; `before` is the (created_at, id) of the last row already seen."""
    params: dict[str, Any] = {"limit": limit}
    overdue = filters.get("overdue")
    also = [] if overdue is None else [_OVERDUE if overdue else f"not {_OVERDUE}"]
    where = page_where(
        filters, _SEARCH_FILTERS, before, keyset="(f.created_at, f.id)", params=params, also=also
    )
    return await fetch_all(
        conn,
        _select("follow_ups") + where + " order by f.created_at desc, f.id desc limit %(limit)s",
        params,
    )


# What an update's entry and event say besides the follow-up.
_UPDATE_FIELDS = {
    "changed": "%(changed)s::jsonb",
    "from_state": "%(from_state)s::text",
    "to_state": "%(to_state)s::text",
}

# Columns a change may set, each from the parameter of the same name.
_SETTABLE = ("title", "owner_id", "due_date", "due_at", "priority", "state", "external_status")


def _update_statement(columns: list[str]) -> str:
    sets = ", ".join(f"{c} = %({c})s" for c in columns)
    return compact_sql(f"""
with {_INC}, fu as (
    update follow_ups set {sets}, updated_by = %(actor)s, updated_at = now(),
        completed_at = case when %(to_state)s::text = 'done' then now()
                            when %(to_state)s::text is not null then null
                            else completed_at end
    where id = %(id)s
    returning *
), {
        _recorded(
            "follow_up_updated",
            actor="%(actor)s::text",
            note="%(note)s::text",
            at="fu.updated_at",
            details=_UPDATE_FIELDS,
            payload={**_UPDATE_FIELDS, "actor": "%(actor)s::text"},
        )
    }
{_select("fu")}
""")


async def update(
    conn: AsyncConn,
    follow_up: dict[str, Any],
    changes: dict[str, Any],
    *,
    actor: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Apply `changes` (columns of `_SETTABLE`) to a follow-up the caller has locked."""
    columns = [c for c in _SETTABLE if c in changes]
    to_state = changes.get("state")
    params = {
        **changes,
        "id": follow_up["id"],
        "incident_id": follow_up["incident_id"],
        "actor": actor,
        "note": note,
        "changed": Jsonb(sorted(k for k in changes if k not in ("due_date", "external_status"))),
        "from_state": follow_up["state"] if to_state is not None else None,
        "to_state": to_state,
    }
    row = await fetch_one(conn, _update_statement(columns), params)
    assert row is not None  # the caller locked the row it updates
    return row


_EXPORTED_TO = {"system": "'jira'::text", "key": "fu.external_key", "url": "fu.external_url"}

_EXPORTED = compact_sql(f"""
with {_INC}, fu as (
    update follow_ups set external_integration_id = %(integration_id)s,
        external_id = %(remote_id)s, external_key = %(remote_key)s,
        external_url = %(remote_url)s, external_status = %(remote_status)s,
        external_synced_at = now()
    where id = %(id)s and external_id is null
    returning *
), {
    _recorded(
        "follow_up_exported",
        actor="%(actor)s::text",
        note="%(note)s::text",
        at=None,
        details=_EXPORTED_TO,
        payload=_EXPORTED_TO,
    )
}
select id from fu
""")


async def record_export(conn: AsyncConn, values: dict[str, Any]) -> bool:
    """Link the follow-up to its new issue; False when it was linked already."""
    return await fetch_one(conn, _EXPORTED, values) is not None


async def for_export(conn: AsyncConn, follow_up_id: UUID) -> dict[str, Any] | None:
    return await get(conn, follow_up_id, None)


async def claim_exported(conn: AsyncConn, every_s: float, limit: int) -> list[dict[str, Any]]:
    """Exported follow-ups still to do whose issue was not looked at for `every_s`,
    marked as looked at now (several workers never take the same one)."""
    return await fetch_all(
        conn,
        "update follow_ups f set external_synced_at = now() where f.id in ("
        " select g.id from follow_ups g join integrations n on n.id = g.external_integration_id"
        " where g.state in ('open', 'in_progress') and g.external_id is not null and n.enabled"
        " and coalesce(g.external_synced_at, '-infinity') < now() - make_interval(secs => %s)"
        " order by g.external_synced_at nulls first limit %s for update of g skip locked)"
        " returning f.id, f.incident_id, f.external_integration_id, f.external_id,"
        " f.external_key, f.external_status",
        (every_s, limit),
    )


async def set_external_status(conn: AsyncConn, follow_up_id: UUID, status: str) -> None:
    await conn.execute(
        "update follow_ups set external_status = %s where id = %s", (status[:60], follow_up_id)
    )


def _review_entries(kind: str, source: str, where: str | None, **extra: str) -> tuple[str, str]:
    return _entry_and_event(
        kind,
        source,
        actor="%(actor)s::text",
        note=f"{source}.title",
        details={"from_review": "true", **extra},
        payload={"actor": "%(actor)s::text", "from_review": "true", **extra},
        where=where,
    )


_NEW = _review_entries("follow_up_created", "up", "up.inserted")
_CHANGED = _review_entries("follow_up_updated", "up", "not up.inserted")
# A withdrawal says where it went, so that an exported issue is closed as for any close.
_WITHDRAWN = _review_entries("follow_up_updated", "gone", None, to_state="'wont_do'::text")

_FROM_REVIEW = compact_sql(f"""
with {_INC}, items as (
    select x.title, x.owner_name, x.due_date, x.due_at, x.n
    from jsonb_to_recordset(%(items)s::jsonb)
        as x(title text, owner_name text, due_date date, due_at timestamptz, n int)
), up as (
    insert into follow_ups (
        incident_id, title, owner_name, due_date, due_at, source, created_by, created_at,
        updated_by)
    select inc.incident_id, x.title, x.owner_name, x.due_date, x.due_at, 'review', %(actor)s,
           clock_timestamp(), %(actor)s
    from inc cross join items x order by x.n
    on conflict (incident_id, lower(title)) where source = 'review' do update set
        owner_name = excluded.owner_name, due_date = excluded.due_date,
        due_at = excluded.due_at, updated_by = excluded.updated_by, updated_at = now()
    where (follow_ups.owner_name, follow_ups.due_date, follow_ups.due_at)
          is distinct from (excluded.owner_name, excluded.due_date, excluded.due_at)
    returning follow_ups.*, (xmax = 0) as inserted
), gone as (
    -- Taken off the review: withdrawn (won't do), never deleted.
    update follow_ups f set state = 'wont_do', updated_by = %(actor)s, updated_at = now()
    where f.incident_id = %(incident_id)s and f.source = 'review'
      and f.state in ('open', 'in_progress')
      and not exists (select 1 from items x where lower(x.title) = lower(f.title))
    returning f.*
), new_entry as ({_NEW[0]}), new_event as ({_NEW[1]}
), changed_entry as ({_CHANGED[0]}), changed_event as ({_CHANGED[1]}
), gone_entry as ({_WITHDRAWN[0]}), gone_event as ({_WITHDRAWN[1]}
)
select (select count(*) from up) as upserted, (select count(*) from gone) as withdrawn
""")


async def sync_review(
    conn: AsyncConn, incident_id: str, items: list[dict[str, Any]], actor: str
) -> dict[str, Any]:
    """The review's action items as follow-ups: new titles added, changed ones updated,
    the review's follow-ups no longer listed withdrawn."""
    row = await fetch_one(
        conn, _FROM_REVIEW, {"incident_id": incident_id, "items": Jsonb(items), "actor": actor}
    )
    assert row is not None
    return row
