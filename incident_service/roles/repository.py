"""SQL for incident roles, their holders and the checklist. No rules here.

An assignment, a relief and a tick are each ONE statement with their timeline entries and
outbox events (`incident_service.changes`). Replacing a holder relieves the old one and
assumes the new one in the same statement; the partial unique index of migration 0088
keeps one current holder per role and incident whatever runs concurrently.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one
from incident_service.roles.schemas import BUILT_IN

Row = dict[str, Any]

_ROLE_COLUMNS = (
    "slug, name, instructions, tasks, team is null as built_in, created_by, created_at,"
    " updated_by, updated_at"
)
_HOLDING = "id, role, user_id, user_name, assigned_by, assumed_at, relieved_by, relieved_at"
_ITEM = (
    "id, incident_id, role, position, title, done_at is not null as done, done_by, done_at,"
    " undone_by, undone_at, created_by, created_at"
)


def _assumed(prefix: str, source: str, previous: str = "previous_user_id") -> str:
    """CTEs recording a holding that `source` has just opened: its timeline entry, its
    event, and its role's tasks as checklist items (once per incident and role).
    `source` has incident_id, assigned_team, role, user_id, user_name, assigned_by and
    assumed_at; `previous` is the SQL of whom it relieved. Terse: it also goes into the
    status statement, which must stay inside psycopg's parse cache."""
    entry = timeline_entry(
        "role_assigned",
        source=source,
        actor="assigned_by",
        details=json_object("role", "user_id", "user_name", previous_user_id=previous),
        occurred_at="assumed_at",
    )
    event = outbox_event(
        "incident_role_assigned",
        source=source,
        payload=json_object(
            "incident_id",
            "assigned_team",
            "role",
            "user_id",
            "user_name",
            previous_user_id=previous,
            actor="assigned_by",
        ),
        created_at="assumed_at",
    )
    return f"""{prefix}_t as ({entry}
), {prefix}_e as ({event}
), {prefix}_c as (
insert into incident_checklist_items (incident_id, role, position, title, created_by)
select incident_id, role, position, title, assigned_by from {source}
join incident_role_types on slug = role and (team is null or team = assigned_team)
cross join jsonb_array_elements_text(tasks) with ordinality t(title, position)
on conflict do nothing
)"""


def _relieved(prefix: str, source: str) -> str:
    """CTEs recording the holdings `source` has just closed: timeline entry and event.
    `source` has incident_id, assigned_team, role, user_id, user_name, relieved_by and
    relieved_at."""
    entry = timeline_entry(
        "role_relieved",
        source=source,
        actor="relieved_by",
        details=json_object("role", "user_id", "user_name"),
        occurred_at="relieved_at",
    )
    event = outbox_event(
        "incident_role_relieved",
        source=source,
        payload=json_object(
            "incident_id", "assigned_team", "role", "user_id", "user_name", actor="relieved_by"
        ),
        created_at="relieved_at",
    )
    # Returning rows, so that a statement can read them to write these first (below).
    return (
        f"{prefix}_entry as ({entry} returning incident_id\n),"
        f" {prefix}_event as ({event} returning incident_id\n)"
    )


def commander_on_acknowledge(
    source: str, *, to_status: str, actor: str, user_id: str, after: tuple[str, ...] = ()
) -> str:
    """CTEs to append to an incident's status statement (after its last CTE, starting with
    the comma): when the statement moves the incident (the row of `source`, with
    incident_id and assigned_team) to ACKNOWLEDGED and `user_id` (the acting person, null
    for a key without one) is a member of its team, that person becomes commander, unless
    someone holds the role. `to_status`, `actor`, `user_id`: SQL expressions of the
    statement's parameters. `after`: CTEs of the statement (returning rows) whose records
    come before the commander's, on the timeline and in the feed."""
    # Reading them first orders the writes: CTEs nothing reads run in no reliable order.
    first = f" and (select count(*) from {', '.join(after)}) >= 0" if after else ""
    # Terse SQL: the status statement must stay inside psycopg's parse cache
    # (tests/incidents/test_statement_size.py).
    return f"""
, ac as (
insert into incident_role_assignments (incident_id, role, user_id, assigned_by)
select incident_id, 'commander', {user_id}, {actor} from {source}
where {to_status} = 'ACKNOWLEDGED'
and exists (select from team_members where team = assigned_team and user_id = {user_id})
{first}
-- Someone holds it already: the one-holder index refuses the row, and nothing is recorded.
on conflict do nothing
returning incident_id, role, user_id, assigned_by, assumed_at,
(select name from users where id = user_id) user_name, (select assigned_team from {source})
), {_assumed("ac", "ac", previous="null")}"""


_RELIEVE_CURRENT = """
    update incident_role_assignments a set relieved_at = now(), relieved_by = %(actor)s::text
    where a.incident_id = %(incident_id)s::text and a.role = %(role)s::text
      and a.relieved_at is null
    returning a.incident_id, a.role, a.user_id, a.relieved_by, a.relieved_at"""
_NAMED_PREVIOUS = """
    select p.incident_id, %(team)s::text as assigned_team, p.role, p.user_id,
           u.name as user_name, p.relieved_by, p.relieved_at
    from prev p join users u on u.id = p.user_id"""

_ASSIGN = compact_sql(f"""
with prev as ({_RELIEVE_CURRENT}
), prev_named as ({_NAMED_PREVIOUS}
), new as (
    insert into incident_role_assignments (incident_id, role, user_id, assigned_by)
    select %(incident_id)s::text, %(role)s::text, %(user_id)s::uuid, %(actor)s::text
    -- Reading `prev` to the end first: the old holding is closed before the new one opens.
    from (select count(*) from prev) as relieved
    returning id, incident_id, role, user_id, assigned_by, assumed_at, relieved_by, relieved_at
), {_relieved("relieved", "prev_named")}, named as (
    select n.*, u.name as user_name, %(team)s::text as assigned_team,
           (select user_id from prev) as previous_user_id
    from new n join users u on u.id = n.user_id
    -- Reading the relief's records first: on the timeline and in the feed, the previous
    -- holder is relieved before the new one takes the role (CTEs that nothing reads run
    -- in no order one can rely on).
    where (select count(*) from relieved_entry) + (select count(*) from relieved_event) >= 0
), {_assumed("assumed", "named")}
select {_HOLDING} from named
""")

_RELIEVE = compact_sql(f"""
with prev as ({_RELIEVE_CURRENT}
), prev_named as ({_NAMED_PREVIOUS}
), {_relieved("relieved", "prev_named")}
select user_id from prev
""")


def _ticked(change: str, where: str) -> str:
    """The CTEs `{change}_entry` and `{change}_event`: the timeline entry and outbox event
    of the checklist items of CTE `item` for which `where` holds (ticked or unticked)."""
    entry = timeline_entry(
        f"checklist_item_{change}",
        source="item",
        actor="%(actor)s::text",
        details=json_object("role", "title", item_id="id"),
        occurred_at="changed_at",
        where=where,
    )
    event = outbox_event(
        f"incident_checklist_item_{change}",
        source="item",
        payload=json_object(
            "incident_id", "assigned_team", "role", "title", item_id="id", actor="%(actor)s::text"
        ),
        created_at="changed_at",
        where=where,
    )
    return f"{change}_entry as ({entry}\n), {change}_event as ({event}\n)"


_TICK = compact_sql(f"""
with item as (
    update incident_checklist_items set
        done_at = case when %(done)s then now() end,
        done_by = case when %(done)s then %(actor)s::text end,
        undone_at = case when %(done)s then undone_at else now() end,
        undone_by = case when %(done)s then undone_by else %(actor)s::text end
    where id = %(item_id)s and incident_id = %(incident_id)s::text
      and (done_at is null) = %(done)s
    returning {_ITEM}, %(team)s::text as assigned_team,
              coalesce(done_at, undone_at) as changed_at
), {_ticked("done", "done")}, {_ticked("undone", "not done")}
select {_ITEM} from item
""")


async def incident_team(conn: AsyncConn, incident_id: str, *, lock: bool) -> str | None:
    """The incident's team (None: no such incident). `lock`: hold the incident's row until
    the transaction ends, so changes of its roles run one after another."""
    suffix = " for update" if lock else ""
    row = await fetch_one(
        conn, f"select assigned_team from incidents where incident_id = %s{suffix}", (incident_id,)
    )
    return None if row is None else str(row["assigned_team"])


async def team_exists(conn: AsyncConn, slug: str) -> bool:
    return await fetch_one(conn, "select 1 from teams where slug = %s", (slug,)) is not None


async def role(conn: AsyncConn, slug: str, team: str) -> Row | None:
    """A built-in role, or one of `team`'s."""
    return await fetch_one(
        conn,
        f"select {_ROLE_COLUMNS} from incident_role_types"
        " where slug = %s and (team is null or team = %s)",
        (slug, team),
    )


async def roles(conn: AsyncConn, team: str) -> list[Row]:
    return await fetch_all(
        conn,
        f"select {_ROLE_COLUMNS} from incident_role_types where team is null or team = %s"
        # The built-in ones first, in their own order; then the team's, oldest first.
        " order by team is not null, array_position(%s::text[], slug::text), created_at, slug",
        (team, list(BUILT_IN)),
    )


async def insert_role(conn: AsyncConn, team: str, values: dict[str, Any]) -> Row | None:
    """None when the slug is taken (by a built-in role or one of the team's)."""
    return await fetch_one(
        conn,
        "insert into incident_role_types (team, slug, name, instructions, tasks, created_by,"
        " updated_by)"
        " select %(team)s::text, %(slug)s::text, %(name)s::text, %(instructions)s::text,"
        " %(tasks)s, %(actor)s::text, %(actor)s::text"
        " where not exists (select 1 from incident_role_types"
        " where team is null and slug = %(slug)s::text)"
        f" on conflict do nothing returning {_ROLE_COLUMNS}",
        values | {"team": team, "tasks": Jsonb(values["tasks"])},
    )


async def update_role(
    conn: AsyncConn, team: str, slug: str, values: dict[str, Any], actor: str
) -> Row | None:
    """None when the team has no such role of its own."""
    params = dict(values)
    if "tasks" in params:
        params["tasks"] = Jsonb(params["tasks"])
    sets = [f"{c} = %({c})s" for c in params]
    sets += ["updated_by = %(_actor)s", "updated_at = now()"]
    return await fetch_one(
        conn,
        f"update incident_role_types set {', '.join(sets)}"
        f" where team = %(_team)s and slug = %(_slug)s returning {_ROLE_COLUMNS}",
        params | {"_team": team, "_slug": slug, "_actor": actor},
    )


async def is_member(conn: AsyncConn, team: str, user_id: UUID) -> bool:
    return (
        await fetch_one(
            conn,
            "select 1 from team_members m join users u on u.id = m.user_id"
            " where m.team = %s and m.user_id = %s and u.deactivated_at is null",
            (team, user_id),
        )
        is not None
    )


async def holdings(conn: AsyncConn, incident_id: str) -> list[Row]:
    return await fetch_all(
        conn,
        "select a.id, a.role, a.user_id, u.name as user_name, a.assigned_by, a.assumed_at,"
        " a.relieved_by, a.relieved_at"
        " from incident_role_assignments a join users u on u.id = a.user_id"
        " where a.incident_id = %s order by a.id",
        (incident_id,),
    )


async def assign(conn: AsyncConn, values: dict[str, Any]) -> Row:
    """Relieve the role's holder (if any) and give the role to `user_id`."""
    row = await fetch_one(conn, _ASSIGN, values)
    assert row is not None  # an INSERT ... RETURNING of one row
    return row


async def relieve(conn: AsyncConn, values: dict[str, Any]) -> bool:
    """False when nobody held the role."""
    return await fetch_one(conn, _RELIEVE, values) is not None


async def checklist(conn: AsyncConn, incident_id: str) -> list[Row]:
    return await fetch_all(
        conn,
        f"select {_ITEM} from incident_checklist_items where incident_id = %s order by id",
        (incident_id,),
    )


async def checklist_item(conn: AsyncConn, incident_id: str, item_id: int) -> Row | None:
    return await fetch_one(
        conn,
        f"select {_ITEM} from incident_checklist_items where incident_id = %s and id = %s",
        (incident_id, item_id),
    )


async def tick(conn: AsyncConn, values: dict[str, Any]) -> Row | None:
    """The item as ticked (or unticked); None when it already was (or does not exist)."""
    return await fetch_one(conn, _TICK, values)


async def held_by(conn: AsyncConn, user_id: UUID, team: str | None) -> list[Row]:
    """The roles `user_id` holds now, on incidents of `team` (None: every team), newest
    first."""
    return await fetch_all(
        conn,
        "select r.incident_id, r.role, r.assumed_at, r.assigned_by, i.title, i.status,"
        " i.severity, i.assigned_team from incident_role_assignments r"
        " join incidents i on i.incident_id = r.incident_id"
        " where r.user_id = %(user)s and r.relieved_at is null"
        " and (%(team)s::text is null or i.assigned_team = %(team)s::text)"
        " order by r.assumed_at desc limit 200",
        {"user": user_id, "team": team},
    )
