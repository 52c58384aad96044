"""SQL of stakeholder updates, update cadences and update reminders. No business rules.

Posting an update is one statement (the update, its `stakeholder_update` timeline entry and
its `incident_update_posted` event); so is raising the reminders of a sweep (each reminder,
its `stakeholder_update_due` entry and its `incident_update_due` event). Every read and
write names the caller's team in its SQL (`scope`: None for a key of every team).
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one
from incident_service.incidents.lifecycle import ACTIVE
from incident_service.vocabulary import IncidentStatus

# Statuses as SQL lists, from the lifecycle: reminders run while an incident is active; an
# update may be posted then and once it is resolved (a final word), never after it is
# closed or merged into another.
_ACTIVE = "(" + ", ".join(f"'{s.value}'" for s in sorted(ACTIVE)) + ")"
_POSTABLE = (
    "(" + ", ".join(f"'{s.value}'" for s in sorted(ACTIVE | {IncidentStatus.RESOLVED})) + ")"
)

SYSTEM = "system"


def _minutes(team: str, severity: str) -> str:
    """SQL: the minutes between updates for `severity` in `team` (expressions), null for no
    reminders: the team's own value when it set one (null included), else the default
    (`%(defaults)s`, a JSON object by severity)."""
    return (
        "((%(defaults)s::jsonb || coalesce((select c.every_minutes from update_cadences c"
        f" where c.team = {team}), '{{}}'::jsonb)) ->> {severity})::float8"
    )


def _every(minutes: str) -> str:
    return f"make_interval(secs => {minutes} * 60)"


_VISIBLE = "(%(scope)s::text is null or assigned_team = %(scope)s::text)"

_POSTED_ENTRY = timeline_entry(
    "stakeholder_update",
    source="posted",
    actor="posted_by",
    note="message",
    details=json_object(update_id="id", status="status", user_id="posted_by_user_id"),
    occurred_at="posted_at",
)
_POSTED_EVENT = outbox_event(
    "incident_update_posted",
    source="posted",
    payload=json_object(
        "incident_id",
        "status",
        "message",
        "severity",
        "incident_status",
        "assigned_team",
        "posted_at",
        "next_update_due_at",
        update_id="id",
        actor="posted_by",
        user_id="posted_by_user_id",
    ),
    created_at="posted_at",
)

_POST = compact_sql(f"""
with inc as (
    select incident_id, severity, status, assigned_team,
           {_minutes("assigned_team", "severity")} as every_minutes
    from incidents
    where incident_id = %(incident_id)s::text and {_VISIBLE}
), upd as (
    insert into incident_updates (
        incident_id, status, message, severity, incident_status, posted_by, posted_by_user_id)
    select incident_id, coalesce(%(status)s::text, %(public_of)s::jsonb ->> status),
           %(message)s::text, severity, status, %(actor)s::text, %(user_id)s::uuid
    from inc
    where status in {_POSTABLE}
    returning id, incident_id, status, message, severity, incident_status, posted_by,
              posted_by_user_id, posted_at
), posted as (
    select upd.*, inc.assigned_team,
           case when inc.status in {_ACTIVE}
                then upd.posted_at + {_every("inc.every_minutes")} end as next_update_due_at
    from upd join inc using (incident_id)
), entry as ({_POSTED_ENTRY}
), event as ({_POSTED_EVENT}
)
select inc.incident_id as found, inc.status as current_status, posted.*
from inc left join posted on true
""")


async def post_update(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any] | None:
    """The update posted, or `{found, current_status}` with the update's columns null when
    the incident refuses updates; None when the caller sees no such incident."""
    params = dict(
        values,
        defaults=Jsonb(values["defaults"]),
        public_of=Jsonb(values["public_of"]),
    )
    return await fetch_one(conn, _POST, params)


_LIST = compact_sql(f"""
select i.incident_id as found, u.id, u.incident_id, u.status, u.message, u.severity,
       u.incident_status, u.posted_by, u.posted_by_user_id, u.posted_at
from incidents i
left join lateral (
    select * from incident_updates u
    where u.incident_id = i.incident_id and (%(before)s::bigint is null or u.id < %(before)s)
    order by u.id desc
    limit %(limit)s
) u on true
where i.incident_id = %(incident_id)s::text and {_VISIBLE}
order by u.id desc
""")


async def list_updates(
    conn: AsyncConn, incident_id: str, *, scope: str | None, limit: int, before: int | None
) -> list[dict[str, Any]] | None:
    """Newest first; None when the caller sees no such incident."""
    params = {"incident_id": incident_id, "scope": scope, "limit": limit, "before": before}
    rows = await fetch_all(conn, _LIST, params)
    if not rows:
        return None
    return [r for r in rows if r["id"] is not None]


# --- cadences ------------------------------------------------------------------------------

_TEAM_VISIBLE = "(%(scope)s::text is null or %(scope)s::text = %(team)s::text)"

_GET_CADENCE = f"""
select %(team)s::text as team, c.every_minutes, c.updated_by, c.updated_at
from (select 1) as one left join update_cadences c on c.team = %(team)s::text
where {_TEAM_VISIBLE}
"""

_PUT_CADENCE = f"""
insert into update_cadences (team, every_minutes, updated_by)
select %(team)s::text, %(every_minutes)s::jsonb, %(actor)s::text
where {_TEAM_VISIBLE}
on conflict (team) do update set
    every_minutes = excluded.every_minutes, updated_by = excluded.updated_by, updated_at = now()
returning team, every_minutes, updated_by, updated_at
"""


async def get_cadence(conn: AsyncConn, team: str, *, scope: str | None) -> dict[str, Any] | None:
    """The team's row (`every_minutes` null when it set none); None when not the caller's."""
    return await fetch_one(conn, _GET_CADENCE, {"team": team, "scope": scope})


async def put_cadence(
    conn: AsyncConn,
    team: str,
    every_minutes: dict[str, float | None],
    *,
    scope: str | None,
    actor: str,
) -> dict[str, Any] | None:
    params = {"team": team, "scope": scope, "every_minutes": Jsonb(every_minutes), "actor": actor}
    return await fetch_one(conn, _PUT_CADENCE, params)


# --- reminders ----------------------------------------------------------------------------

# Role names the reminder looks for, in order: the communications lead, then the commander.
COMMUNICATIONS_ROLES = ("communications", "communications_lead", "comms")
COMMANDER_ROLES = ("commander", "incident_commander")


async def roles_table(conn: AsyncConn) -> dict[str, str] | None:
    """How to read `incident_roles` (built by the roles feature), when it exists with an
    incident, a role and a user column: {"role": <column>, "current": <SQL condition>}.
    None when it does not: reminders then go to the assignee, else the team."""
    columns = {
        r["attname"]
        for r in await fetch_all(
            conn,
            "select a.attname from pg_attribute a"
            " where a.attrelid = to_regclass('incident_roles') and a.attnum > 0"
            " and not a.attisdropped",
        )
    }
    role = next((c for c in ("role", "role_slug", "slug") if c in columns), None)
    if role is None or not {"incident_id", "user_id"} <= columns:
        return None
    current = " and r.unassigned_at is null" if "unassigned_at" in columns else ""
    return {"role": role, "current": current}


def _holder(roles: dict[str, str] | None) -> str:
    """A lateral subquery: the incident's communications lead, else its commander."""
    if roles is None:
        return "select null::text as kind, null::uuid as user_id, null::text as name"
    role = f"r.{roles['role']}"
    return f"""
    select case when {role} = any(%(comms)s::text[]) then 'communications'
                else 'commander' end as kind,
           r.user_id, u.name
    from incident_roles r left join users u on u.id = r.user_id
    where r.incident_id = f.incident_id and {role} = any(%(wanted)s::text[]){roles["current"]}
    order by array_position(%(wanted)s::text[], {role}::text), r.user_id
    limit 1"""


# What a reminder says, on its timeline entry and in its event.
_DUE_FIELDS = (
    "due_at",
    "every_minutes",
    "last_update_at",
    "recipient_type",
    "recipient",
    "recipient_user_id",
)
_DUE_ENTRY = timeline_entry(
    "stakeholder_update_due",
    source="raised",
    actor=f"'{SYSTEM}'",
    note="'stakeholder update due (every ' || every_minutes || ' min at ' || severity"
    " || '): reminder to ' || recipient || ' (' || recipient_type || ')'",
    details=json_object(*_DUE_FIELDS),
    occurred_at="raised_at",
)
_DUE_EVENT = outbox_event(
    "incident_update_due",
    source="raised",
    payload=json_object(
        "incident_id",
        "severity",
        "status",
        "assigned_team",
        *_DUE_FIELDS,
        actor=f"'{SYSTEM}'::text",
    ),
    created_at="raised_at",
)


def sweep_statement(roles: dict[str, str] | None) -> str:
    """Raise one reminder for each active incident whose update is overdue: the interval
    (its severity's, in its team's cadence) has passed since its last update, or since it
    was opened when it has none, and no reminder was raised for the current interval.
    Reminders are due at anchor + k x interval; only the latest passed one is raised, so a
    sweep after a long pause raises one, not one per missed interval."""
    return compact_sql(f"""
with active as materialized (
    -- The cadence by a hash join (one row per team that set one), not per incident.
    select i.incident_id, i.severity, i.status, i.assigned_team, i.assignee, i.assignee_id,
           i.created_at,
           ((%(defaults)s::jsonb || coalesce(c.every_minutes, '{{}}'::jsonb))
            ->> i.severity)::float8 as every_minutes
    from incidents i left join update_cadences c on c.team = i.assigned_team
    where i.status in {_ACTIVE}
), slots as materialized (
    select a.*, coalesce(u.posted_at, a.created_at) as anchor, u.posted_at as last_update_at,
           floor(extract(epoch from now() - coalesce(u.posted_at, a.created_at))
                 / (a.every_minutes * 60)) as k
    from active a
    left join lateral (
        select posted_at from incident_updates u
        where u.incident_id = a.incident_id order by u.id desc limit 1
    ) u on true
    -- Younger than its interval: not due whatever its updates (no lookup of them).
    where a.every_minutes is not null
      and a.created_at <= now() - {_every("a.every_minutes")}
), f as (
    select s.*, s.anchor + {_every("s.every_minutes * s.k")} as due_at
    from slots s
    where s.k >= 1
      and not exists (
          select 1 from update_reminders r
          where r.incident_id = s.incident_id
            and r.due_at > s.anchor + {_every("s.every_minutes * (s.k - 1)")})
    order by s.incident_id
    limit %(batch)s
), ins as (
    insert into update_reminders (
        incident_id, due_at, every_minutes, recipient_type, recipient, recipient_user_id)
    select f.incident_id, f.due_at, f.every_minutes,
           coalesce(h.kind, case when f.assignee_id is not null or f.assignee is not null
                                 then 'assignee' else 'team' end),
           left(coalesce(h.name, au.name, f.assignee, f.assigned_team), 200),
           case when h.kind is not null then h.user_id else f.assignee_id end
    from f
    left join lateral ({_holder(roles)}) h on true
    left join users au on au.id = f.assignee_id
    on conflict (incident_id, due_at) do nothing
    returning incident_id, due_at, raised_at, every_minutes, recipient_type, recipient,
              recipient_user_id
), raised as (
    select ins.*, f.severity, f.status, f.assigned_team, f.last_update_at
    from ins join f using (incident_id)
), entry as ({_DUE_ENTRY}
), event as ({_DUE_EVENT}
)
select incident_id, due_at, recipient_type, recipient, recipient_user_id from raised
""")


async def raise_due(
    conn: AsyncConn, statement: str, defaults: dict[str, float | None], batch: int
) -> list[dict[str, Any]]:
    params = {
        "defaults": Jsonb(defaults),
        "batch": batch,
        "comms": list(COMMUNICATIONS_ROLES),
        "wanted": [*COMMUNICATIONS_ROLES, *COMMANDER_ROLES],
    }
    return await fetch_all(conn, statement, params)


async def try_sweep_lock(conn: AsyncConn, name: str = "update_reminders") -> bool:
    """One worker sweeps `name` at a time (for this transaction); the others skip it."""
    row = await fetch_one(conn, "select pg_try_advisory_xact_lock(hashtext(%s))", (name,))
    return bool(row and row["pg_try_advisory_xact_lock"])
