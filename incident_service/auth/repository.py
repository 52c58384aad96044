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
    columns="id, name, prefix, scopes, team, rate_limit, created_by, created_at, last_used_at,"
    " revoked_at",
    order_by="created_at, id",
    touched=None,
)
_COLUMNS = API_KEYS.columns


async def find_active_by_hash(
    conn: psycopg.AsyncConnection[Any], key_hash: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_COLUMNS} from api_keys where key_hash = %s and revoked_at is null",
        (key_hash,),
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
