"""SQL for API keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from incident_service.crud import Table

# Keys are revoked, never deleted, and have no update time: a revocation records its own.
API_KEYS = Table(
    name="api_keys",
    noun="API key",
    columns="id, name, prefix, scopes, team, rate_limit, user_id, created_by, created_at,"
    " last_used_at, revoked_at",
    order_by="created_at, id",
    touched=None,
)
_COLUMNS = API_KEYS.columns


async def find_active_by_hash(
    conn: psycopg.AsyncConnection[Any], key_hash: str
) -> dict[str, Any] | None:
    """The unrevoked key, with the name of the user it acts for (`user_name`) and when
    that user was deactivated (`user_deactivated_at`: the key must then be refused)."""
    columns = ", ".join(f"k.{c.strip()}" for c in _COLUMNS.split(","))
    cur = await conn.execute(
        f"select {columns}, u.name as user_name, u.deactivated_at as user_deactivated_at"
        " from api_keys k left join users u on u.id = k.user_id"
        " where k.key_hash = %s and k.revoked_at is null",
        (key_hash,),
    )
    row = await cur.fetchone()
    return None if row is None else dict(row)


async def user_in_team(conn: psycopg.AsyncConnection[Any], user_id: UUID, team: str | None) -> bool:
    """Whether the user exists, is active and (with `team`) is a member of that team."""
    cur = await conn.execute(
        "select 1 from users u where u.id = %(user)s and u.deactivated_at is null"
        " and (%(team)s::text is null or exists (select 1 from team_members m"
        " where m.user_id = u.id and m.team = %(team)s::text))",
        {"user": user_id, "team": team},
    )
    return await cur.fetchone() is not None


async def count_active(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("select count(*) as n from api_keys where revoked_at is null")
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"] if isinstance(row, dict) else row[0])


async def touch(conn: psycopg.AsyncConnection[Any], key_id: UUID) -> None:
    await conn.execute(
        "update api_keys set last_used_at = now() where id = %s"
        " and (last_used_at is null or last_used_at < now() - interval '1 minute')",
        (key_id,),
    )


async def user_teams(
    conn: psycopg.AsyncConnection[Any], user_id: UUID, team: str | None
) -> list[str]:
    """The teams of a user, of `team` only when given (a team key sees its own)."""
    cur = await conn.execute(
        "select m.team from team_members m where m.user_id = %(user)s"
        " and (%(team)s::text is null or m.team = %(team)s::text) order by m.team",
        {"user": user_id, "team": team},
    )
    rows = await cur.fetchall()
    return [str(r["team"] if isinstance(r, dict) else r[0]) for r in rows]


async def key_name(conn: psycopg.AsyncConnection[Any], key_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select k.name, k.prefix, k.created_at, u.name as user_name, u.email as user_email"
        " from api_keys k left join users u on u.id = k.user_id where k.id = %s",
        (key_id,),
    )
    row = await cur.fetchone()
    return None if row is None else dict(row)


async def user_as_key(conn: psycopg.AsyncConnection[Any], user_id: UUID) -> dict[str, Any] | None:
    """An OIDC session's `/me`: the user, in the shape of `key_name` (no key, no prefix)."""
    cur = await conn.execute(
        "select 'OIDC session' as name, '' as prefix, u.created_at, u.name as user_name,"
        " u.email as user_email from users u where u.id = %s",
        (user_id,),
    )
    row = await cur.fetchone()
    return None if row is None else dict(row)
