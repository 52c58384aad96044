"""SQL for API keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from incident_service.crud import Table
from incident_service.db import fetch_all, fetch_one

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
    row = await fetch_one(
        conn,
        f"select {columns}, u.name as user_name, u.deactivated_at as user_deactivated_at"
        " from api_keys k left join users u on u.id = k.user_id"
        " where k.key_hash = %s and k.revoked_at is null",
        (key_hash,),
    )
    return None if row is None else dict(row)


async def user_in_team(conn: psycopg.AsyncConnection[Any], user_id: UUID, team: str | None) -> bool:
    """Whether the user exists, is active and (with `team`) is a member of that team."""
    return (
        await fetch_one(
            conn,
            "select 1 from users u where u.id = %(user)s and u.deactivated_at is null"
            " and (%(team)s::text is null or exists (select 1 from team_members m"
            " where m.user_id = u.id and m.team = %(team)s::text))",
            {"user": user_id, "team": team},
        )
        is not None
    )


async def count_active(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await fetch_one(conn, "select count(*) as n from api_keys where revoked_at is null")
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
    rows = await fetch_all(
        conn,
        "select m.team from team_members m where m.user_id = %(user)s"
        " and (%(team)s::text is null or m.team = %(team)s::text) order by m.team",
        {"user": user_id, "team": team},
    )
    return [str(r["team"] if isinstance(r, dict) else r[0]) for r in rows]


async def key_name(conn: psycopg.AsyncConnection[Any], key_id: UUID) -> dict[str, Any] | None:
    row = await fetch_one(
        conn,
        "select k.name, k.prefix, k.created_at, u.name as user_name, u.email as user_email"
        " from api_keys k left join users u on u.id = k.user_id where k.id = %s",
        (key_id,),
    )
    return None if row is None else dict(row)


# --- console sessions (migration 0097) ---------------------------------------------------


async def insert_session(
    conn: psycopg.AsyncConnection[Any],
    *,
    token_hash: str,
    key_id: UUID,
    via: str,
    csrf_token: str,
    ttl_s: float,
) -> None:
    await conn.execute(
        "insert into console_sessions (token_hash, key_id, via, csrf_token, expires_at)"
        " values (%s, %s, %s, %s, now() + make_interval(secs => %s))",
        (token_hash, key_id, via, csrf_token, ttl_s),
    )
    # Sessions long over are of no use to anyone: each sign-in clears a few.
    await conn.execute(
        "delete from console_sessions where id in (select id from console_sessions"
        " where expires_at < now() - interval '30 days' limit 100)"
    )


async def find_live_session(
    conn: psycopg.AsyncConnection[Any], token_hash: str, idle_s: float
) -> dict[str, Any] | None:
    """The session's key (as `find_active_by_hash`) and its CSRF token, if the session is
    neither ended, expired nor idle longer than `idle_s`, and its key is not revoked; its
    `last_seen_at` is moved on (at most once a minute)."""
    columns = ", ".join(f"k.{c.strip()}" for c in _COLUMNS.split(","))
    row = await fetch_one(
        conn,
        "with live as (select s.id, s.key_id, s.csrf_token, s.last_seen_at"
        " from console_sessions s"
        " where s.token_hash = %(hash)s and s.ended_at is null and s.expires_at > now()"
        " and s.last_seen_at > now() - make_interval(secs => %(idle)s)),"
        " touched as (update console_sessions s set last_seen_at = now() from live l"
        " where s.id = l.id and l.last_seen_at < now() - interval '1 minute')"
        f" select {columns}, l.id as session_id, l.csrf_token,"
        " u.name as user_name, u.deactivated_at as user_deactivated_at"
        " from live l join api_keys k on k.id = l.key_id left join users u on u.id = k.user_id"
        " where k.revoked_at is null",
        {"hash": token_hash, "idle": idle_s},
    )
    return None if row is None else dict(row)


async def end_session(conn: psycopg.AsyncConnection[Any], token_hash: str, actor: str) -> bool:
    return (
        await fetch_one(
            conn,
            "update console_sessions set ended_at = now(), ended_by = %s"
            " where token_hash = %s and ended_at is null returning id",
            (actor, token_hash),
        )
        is not None
    )


async def upsert_console_key(
    conn: psycopg.AsyncConnection[Any],
    *,
    user_id: UUID,
    name: str,
    key_hash: str,
    scopes: list[str],
    team: str | None,
    actor: str,
) -> dict[str, Any]:
    """The user's console key (`console_user_id`), created or brought up to date (name,
    scopes, team); its `revoked_at` tells whether an admin revoked it."""
    row = await fetch_one(
        conn,
        "insert into api_keys (name, prefix, key_hash, scopes, team, user_id, console_user_id,"
        " created_by) values (%(name)s, 'console', %(hash)s, %(scopes)s, %(team)s, %(user)s,"
        " %(user)s, %(actor)s)"
        " on conflict (console_user_id) do update set name = excluded.name,"
        " scopes = excluded.scopes, team = excluded.team"
        " returning id, revoked_at",
        {
            "name": name,
            "hash": key_hash,
            "scopes": scopes,
            "team": team,
            "user": user_id,
            "actor": actor,
        },
    )
    assert row is not None
    return dict(row)
