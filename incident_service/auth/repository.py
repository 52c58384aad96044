"""SQL for API keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

_COLUMNS = (
    "id, name, prefix, scopes, team, rate_limit, created_by, created_at, last_used_at, revoked_at"
)


async def insert_key(conn: psycopg.AsyncConnection[Any], values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        "insert into api_keys (name, prefix, key_hash, scopes, team, rate_limit, created_by)"
        " values (%(name)s, %(prefix)s, %(key_hash)s, %(scopes)s, %(team)s, %(rate_limit)s,"
        f" %(created_by)s) returning {_COLUMNS}",
        values,
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def find_active_by_hash(
    conn: psycopg.AsyncConnection[Any], key_hash: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_COLUMNS} from api_keys where key_hash = %s and revoked_at is null",
        (key_hash,),
    )
    row = await cur.fetchone()
    return None if row is None else dict(row)


# `team`: None lists or revokes any key (an unrestricted caller); a team only its keys.
async def list_keys(
    conn: psycopg.AsyncConnection[Any], team: str | None = None
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_COLUMNS} from api_keys where %(team)s::text is null or team = %(team)s"
        " order by created_at, id",
        {"team": team},
    )
    return [dict(r) for r in await cur.fetchall()]


async def revoke(
    conn: psycopg.AsyncConnection[Any], key_id: UUID, actor: str, team: str | None = None
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "update api_keys set revoked_at = coalesce(revoked_at, now()),"
        " revoked_by = coalesce(revoked_by, %(actor)s) where id = %(id)s"
        " and (%(team)s::text is null or team = %(team)s)"
        f" returning {_COLUMNS}",
        {"actor": actor, "id": key_id, "team": team},
    )
    row = await cur.fetchone()
    return None if row is None else dict(row)


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
