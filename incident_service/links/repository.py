"""SQL for links between incidents. No business rules here.

A link is one row (`incident_links`): `parent` from the parent (source) to the child
(target), `related` from the lesser incident id to the greater. Each write is one
statement: the link, a timeline entry on each of its incidents, and one outbox event. Both
incidents must be visible to the caller's team, in the same SQL.
"""

from __future__ import annotations

from typing import Any

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one

_VISIBLE = "(%(team)s::text is null or {alias}.assigned_team = %(team)s::text)"

# What the other incident is, seen from `side` (an incident of the link `l`).
_TYPE_FROM = """case when l.kind = 'related' then 'related'
    when l.source_incident = {side} then 'child' else 'parent' end"""
_OTHER_OF = "case when l.source_incident = {side} then l.target_incident else l.source_incident end"


# Parts of a link's timeline entries (one per side, `sides`) and of its event.
_ENTRY = {
    "source": "sides",
    "incident_id": "sides.incident_id",
    "actor": "%(actor)s::text",
    "details": json_object(link_id="sides.id", type="sides.type", incident_id="sides.other"),
    "occurred_at": "sides.at",
}
_EVENT = {
    "source": "l",
    "incident_id": "%(this)s::text",
    "payload": json_object(
        incident_id="%(this)s::text",
        link_id="l.id",
        type=_TYPE_FROM.format(side="%(this)s::text"),
        other_incident_id=_OTHER_OF.format(side="%(this)s::text"),
        actor="%(actor)s::text",
    ),
}
_ADDED_ENTRY = timeline_entry("link_added", **_ENTRY)
_REMOVED_ENTRY = timeline_entry("link_removed", **_ENTRY)
_LINKED_EVENT = outbox_event("incident_linked", **_EVENT)
_UNLINKED_EVENT = outbox_event("incident_unlinked", **_EVENT)


# Each incident of the link `l`, with the other one and what that one is to it.
_SIDES = f"""
    select l.id, now() as at, s.incident_id,
           {_OTHER_OF.format(side="s.incident_id")} as other,
           {_TYPE_FROM.format(side="s.incident_id")} as type
    from l cross join lateral (values (l.source_incident), (l.target_incident))
        as s(incident_id)"""

_ADD = compact_sql(f"""
with l as (
    insert into incident_links (source_incident, target_incident, kind, created_by,
                                created_by_user_id)
    select %(source)s, %(target)s, %(kind)s, %(actor)s, %(user_id)s::uuid
    where exists (select from incidents i where i.incident_id = %(this)s
                  and {_VISIBLE.format(alias="i")})
      and exists (select from incidents o where o.incident_id = %(other)s
                  and {_VISIBLE.format(alias="o")})
    on conflict do nothing
    returning id, source_incident, target_incident, kind, created_by, created_by_user_id,
              created_at
), sides as ({_SIDES}
), timeline as ({_ADDED_ENTRY}
), event as ({_LINKED_EVENT}
)
select id from l
""")

_REMOVE = compact_sql(f"""
with l as (
    delete from incident_links l
    using incidents i, incidents o
    where l.id = %(link_id)s and %(this)s in (l.source_incident, l.target_incident)
      and i.incident_id = l.source_incident and {_VISIBLE.format(alias="i")}
      and o.incident_id = l.target_incident and {_VISIBLE.format(alias="o")}
    returning l.id, l.source_incident, l.target_incident, l.kind
), sides as ({_SIDES}
), timeline as ({_REMOVED_ENTRY}
), event as ({_UNLINKED_EVENT}
)
select id from l
""")

_LIST = compact_sql(f"""
select l.id, {_TYPE_FROM.format(side="%(this)s")} as type, o.incident_id as other_id,
       o.title, o.status, o.severity, l.created_by, l.created_by_user_id, l.created_at
from incident_links l
join incidents o on o.incident_id = {_OTHER_OF.format(side="%(this)s")}
where %(this)s in (l.source_incident, l.target_incident) and {_VISIBLE.format(alias="o")}
  and (%(link_id)s::bigint is null or l.id = %(link_id)s::bigint)
order by l.id
""")


async def visible(conn: AsyncConn, incident_id: str, team: str | None) -> bool:
    return (
        await fetch_one(
            conn,
            "select from incidents where incident_id = %s"
            " and (%s::text is null or assigned_team = %s)",
            (incident_id, team, team),
        )
        is not None
    )


async def add_link(conn: AsyncConn, values: dict[str, Any]) -> int | None:
    """The new link's id; None when it was not written (a link of the pair exists, or an
    incident is not visible)."""
    row = await fetch_one(conn, _ADD, values)
    return None if row is None else int(row["id"])


async def remove_link(conn: AsyncConn, values: dict[str, Any]) -> bool:
    return await fetch_one(conn, _REMOVE, values) is not None


async def list_links(
    conn: AsyncConn, incident_id: str, team: str | None, link_id: int | None = None
) -> list[dict[str, Any]]:
    """The incident's links whose other incident `team` sees, oldest first."""
    return await fetch_all(conn, _LIST, {"this": incident_id, "team": team, "link_id": link_id})


async def link_between(conn: AsyncConn, one: str, other: str) -> int | None:
    row = await fetch_one(
        conn,
        "select id from incident_links where least(source_incident, target_incident) ="
        " least(%(a)s::text, %(b)s::text) and greatest(source_incident, target_incident) ="
        " greatest(%(a)s::text, %(b)s::text)",
        {"a": one, "b": other},
    )
    return None if row is None else int(row["id"])


# Parent links are written one at a time (a transaction-scoped lock): the cycle check and
# the insert then see every parent link committed before, so two links that would close a
# cycle only together cannot both pass.
_PARENT_LOCK = "select pg_advisory_xact_lock(hashtext('incident_links:parent'))"

# Whether `descendant` is reached from `ancestor` going down parent links (any depth);
# `union` stops at an incident already seen.
_REACHES = compact_sql("""
with recursive below(incident_id) as (
    select %(ancestor)s::text
    union
    select l.target_incident from incident_links l join below b on l.source_incident = b.incident_id
    where l.kind = 'parent'
)
select exists (select from below where incident_id = %(descendant)s::text) as reached
""")


async def lock_parent_links(conn: AsyncConn) -> None:
    await conn.execute(_PARENT_LOCK)


async def reaches(conn: AsyncConn, ancestor: str, descendant: str) -> bool:
    """Whether `descendant` is `ancestor` or below it through parent links."""
    row = await fetch_one(conn, _REACHES, {"ancestor": ancestor, "descendant": descendant})
    return bool(row and row["reached"])
