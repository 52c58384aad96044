"""SQL for users, teams and team membership. No rules here.

`team` in every read is the caller's restriction (None: every team). A user is seen by a
team key when they are a member of its team; a team, when it is the key's team. The filter
is in the SQL, so what the caller may not see is exactly as absent as what does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import errors
from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn, fetch_all, fetch_one
from incident_service.errors import Conflict

Row = dict[str, Any]

_SEES_USER = (
    "(%(_team)s::text is null or exists (select 1 from team_members m"
    " where m.user_id = u.id and m.team = %(_team)s::text))"
)
# Of the user's teams, only those the caller sees: another team's name is not shown.
_USER_COLUMNS = """
    u.id, u.name, u.email, u.chat_handle, u.time_zone, u.role, u.deactivated_at is null as active,
    u.deactivated_at,
    u.created_by, u.created_at, u.updated_by, u.updated_at,
    coalesce((select array_agg(m.team order by m.team) from team_members m
              where m.user_id = u.id
                and (%(_team)s::text is null or m.team = %(_team)s::text)), '{}') as teams
"""
_SEES_TEAM = "(%(_team)s::text is null or t.slug = %(_team)s::text)"
_TEAM_COLUMNS = """
    t.slug, t.name, t.default_escalation_policy_id, t.created_by, t.created_at,
    t.updated_by, t.updated_at
"""
_EMAIL_TAKEN = "users_email_key"


@dataclass(frozen=True, slots=True)
class _Seen:
    """Users or teams as the caller sees them: `sees` (reading `%(_team)s`) filters every
    read, so that what the caller may not see is exactly as absent as a missing row."""

    source: str
    columns: str
    sees: str
    key: str
    order_by: str

    async def all(self, conn: AsyncConn, team: str | None) -> list[Row]:
        return await fetch_all(
            conn,
            f"select {self.columns} from {self.source} where {self.sees} order by {self.order_by}",
            {"_team": team},
        )

    async def one(self, conn: AsyncConn, key: Any, team: str | None) -> Row | None:
        return await fetch_one(
            conn,
            f"select {self.columns} from {self.source} where {self.key} = %(_key)s and {self.sees}",
            {"_key": key, "_team": team},
        )


_USERS = _Seen("users u", _USER_COLUMNS, _SEES_USER, key="u.id", order_by="u.name, u.id")
_TEAMS = _Seen("teams t", _TEAM_COLUMNS, _SEES_TEAM, key="t.slug", order_by="t.slug")


def _email_taken(email: str | None) -> Conflict:
    msg = f"a user with the email {email!r} already exists"
    return Conflict(msg, extra=[{"key": "email", "source": "body", "message": "taken"}])


async def list_users(conn: AsyncConn, team: str | None) -> list[Row]:
    return await _USERS.all(conn, team)


async def get_user(conn: AsyncConn, user_id: UUID, team: str | None) -> Row | None:
    return await _USERS.one(conn, user_id, team)


async def user_id_by_email(conn: AsyncConn, email: str) -> Row | None:
    """The user with this address, whatever its case (id and whether deactivated)."""
    return await fetch_one(
        conn, "select id, deactivated_at from users where lower(email) = lower(%s)", (email,)
    )


_INSERT_USER = """
with u as (
    insert into users (name, email, chat_handle, time_zone, created_by, updated_by{role_column})
    values (%(name)s, %(email)s, %(chat_handle)s, %(time_zone)s, %(actor)s, %(actor)s{role_value})
    returning id
), audit as (
    insert into user_changes (user_id, change, actor) select id, 'created', %(actor)s from u
)
select id from u
"""


async def insert_user(conn: AsyncConn, values: dict[str, Any]) -> UUID:
    """The new user's id; 409 naming `email` when another user has that address."""
    try:
        # A savepoint: a clash must not abort the request's transaction.
        async with conn.transaction():
            # No role given: the column's default (migration 0097).
            with_role = values.get("role") is not None
            sql = _INSERT_USER.format(
                role_column=", role" if with_role else "",
                role_value=", %(role)s" if with_role else "",
            )
            row = await fetch_one(conn, sql, values)
    except errors.UniqueViolation as exc:
        if exc.diag.constraint_name != _EMAIL_TAKEN:
            raise
        raise _email_taken(values.get("email")) from exc
    assert row is not None  # an INSERT ... RETURNING of one row
    user_id: UUID = row["id"]
    return user_id


# The change and its audit row in one statement: `before` is the row as it was (locked),
# so a deactivation or reactivation is told from an edit (`fields`: the others changed);
# setting `active` to what it already is records nothing.
_UPDATE_USER = f"""
with before as (
    select u.id, u.deactivated_at as was_deactivated_at from users u
    where u.id = %(_id)s and {_SEES_USER} for update
), upd as (
    update users u set {{sets}} from before where u.id = before.id
    returning u.id, before.was_deactivated_at is null as was_active,
              u.deactivated_at is null as active
), audit as (
    insert into user_changes (user_id, change, fields, actor)
    select id, case when was_active and not active then 'deactivated'
                    when active and not was_active then 'reactivated'
                    else 'updated' end,
           %(_fields)s::jsonb - 'active',
           %(_actor)s
    from upd
    where was_active <> active or %(_fields)s::jsonb - 'active' <> '[]'::jsonb
)
select id from upd
"""


async def update_user(
    conn: AsyncConn, user_id: UUID, team: str | None, values: dict[str, Any], actor: str
) -> bool:
    """Set the columns of `values` (and who and when); False when the caller sees no such
    user. 409 naming `email` when another user has the new address."""
    sets = [f"{c} = %({c})s" for c in values if c != "active"]
    if "active" in values:
        sets.append(
            "deactivated_at = case when %(active)s then null"
            " else coalesce(deactivated_at, now()) end"
        )
    sets += ["updated_by = %(_actor)s", "updated_at = now()"]
    params = values | {
        "_id": user_id,
        "_team": team,
        "_actor": actor,
        "_fields": Jsonb(sorted(values)),
    }
    try:
        async with conn.transaction():
            row = await fetch_one(conn, _UPDATE_USER.format(sets=", ".join(sets)), params)
    except errors.UniqueViolation as exc:
        if exc.diag.constraint_name != _EMAIL_TAKEN:
            raise
        raise _email_taken(values.get("email")) from exc
    return row is not None


async def set_console_key_scopes(conn: AsyncConn, user_id: UUID, scopes: list[str]) -> None:
    """A user's console key (the one their OIDC sessions act through: `api_keys.
    console_user_id`, migration 0097) takes the scopes of their new role at once."""
    await conn.execute(
        "update api_keys set scopes = %s where console_user_id = %s", (scopes, user_id)
    )


async def existing_teams(conn: AsyncConn, slugs: list[str]) -> set[str]:
    return {
        r["slug"]
        for r in await fetch_all(conn, "select slug from teams where slug = any(%s)", (slugs,))
    }


async def users_in(conn: AsyncConn, user_ids: list[UUID], team: str | None) -> set[UUID]:
    """Which of `user_ids` exist and are seen by the caller."""
    return {
        r["id"]
        for r in await fetch_all(
            conn,
            f"select u.id from users u where u.id = any(%(ids)s) and {_SEES_USER}",
            {"ids": user_ids, "_team": team},
        )
    }


async def list_teams(conn: AsyncConn, team: str | None) -> list[Row]:
    return await _TEAMS.all(conn, team)


async def get_team(conn: AsyncConn, slug: str, team: str | None) -> Row | None:
    return await _TEAMS.one(conn, slug, team)


async def members(conn: AsyncConn, slugs: list[str]) -> list[Row]:
    return await fetch_all(
        conn,
        "select m.team, m.user_id, u.name, u.email, m.added_by, m.added_at"
        " from team_members m join users u on u.id = m.user_id"
        " where m.team = any(%s) order by m.team, u.name, u.id",
        (slugs,),
    )


async def insert_team(conn: AsyncConn, values: dict[str, Any]) -> bool:
    """False when the slug is taken."""
    return (
        await fetch_one(
            conn,
            "insert into teams (slug, name, default_escalation_policy_id, created_by, updated_by)"
            " values (%(slug)s, %(name)s, %(default_escalation_policy_id)s, %(actor)s, %(actor)s)"
            " on conflict (slug) do nothing returning slug",
            values,
        )
        is not None
    )


async def update_team(
    conn: AsyncConn, slug: str, team: str | None, values: dict[str, Any], actor: str
) -> bool:
    sets = [f"{c} = %({c})s" for c in values]
    sets += ["updated_by = %(_actor)s", "updated_at = now()"]
    return (
        await fetch_one(
            conn,
            f"update teams t set {', '.join(sets)}"
            f" where t.slug = %(_slug)s and {_SEES_TEAM} returning t.slug",
            values | {"_slug": slug, "_team": team, "_actor": actor},
        )
        is not None
    )


async def policy_team(conn: AsyncConn, policy_id: UUID) -> str | None:
    """The team of an escalation policy (None: no such policy)."""
    row = await fetch_one(conn, "select team from escalation_policies where id = %s", (policy_id,))
    return None if row is None else str(row["team"])


# Membership and its audit row change together, in one statement; a repeat changes nothing
# and records nothing.
_ADD_MEMBERS = """
with added as (
    insert into team_members (team, user_id, added_by)
    select %(team)s, id, %(actor)s from unnest(%(user_ids)s::uuid[]) as ids(id)
    on conflict do nothing
    returning team, user_id
)
insert into team_member_changes (team, user_id, change, actor)
select team, user_id, 'added', %(actor)s from added
returning user_id
"""
_REMOVE_MEMBER = """
with removed as (
    delete from team_members where team = %(team)s and user_id = %(user_id)s
    returning team, user_id
)
insert into team_member_changes (team, user_id, change, actor)
select team, user_id, 'removed', %(actor)s from removed
returning user_id
"""


async def add_members(conn: AsyncConn, slug: str, user_ids: list[UUID], actor: str) -> int:
    """How many of `user_ids` joined (those already members are left as they are)."""
    return len(
        await fetch_all(conn, _ADD_MEMBERS, {"team": slug, "user_ids": user_ids, "actor": actor})
    )


async def remove_member(conn: AsyncConn, slug: str, user_id: UUID, actor: str) -> bool:
    return (
        await fetch_one(conn, _REMOVE_MEMBER, {"team": slug, "user_id": user_id, "actor": actor})
        is not None
    )


async def membership_changes(conn: AsyncConn, slug: str) -> list[Row]:
    return await fetch_all(
        conn,
        "select id, user_id, change, actor, changed_at from team_member_changes"
        " where team = %s order by id",
        (slug,),
    )


async def user_changes(conn: AsyncConn, user_id: UUID) -> list[Row]:
    return await fetch_all(
        conn,
        "select id, change, fields, actor, changed_at from user_changes"
        " where user_id = %s order by id",
        (user_id,),
    )
