"""SQL for integrations, vendor links, sync state and the dispatcher's cursor."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn

_COLUMNS = (
    "id, kind, name, team, severities, config, key_sha256, key_prefix, enabled,"
    " created_by, created_at"
)


async def insert_integration(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        "insert into integrations (kind, name, team, severities, config, key_sha256,"
        " key_prefix, created_by) values (%(kind)s, %(name)s, %(team)s, %(severities)s,"
        f" %(config)s, %(key_sha256)s, %(key_prefix)s, %(created_by)s) returning {_COLUMNS}",
        values | {"config": Jsonb(values["config"])},
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def by_key(
    conn: AsyncConn, key_sha256: str, lock_dedup_key: str | None = None
) -> dict[str, Any] | None:
    """The enabled integration with this key; with `lock_dedup_key`, also takes the
    (integration, dedup key) lock of `alerts.repository.lock_key` in the same round trip."""
    if lock_dedup_key is None:
        cur = await conn.execute(
            f"select {_COLUMNS} from integrations where key_sha256 = %s and enabled",
            (key_sha256,),
        )
    else:
        cur = await conn.execute(
            f"select {_COLUMNS}, pg_advisory_xact_lock(hashtextextended(id::text || ':' || %s, 0))"
            " from integrations where key_sha256 = %s and enabled",
            (lock_dedup_key, key_sha256),
        )
    return await cur.fetchone()


async def by_id(conn: AsyncConn, integration_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_COLUMNS} from integrations where id = %s", (integration_id,)
    )
    return await cur.fetchone()


async def list_integrations(conn: AsyncConn, team: str | None) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_COLUMNS} from integrations where (%(team)s::text is null or team = %(team)s)"
        " order by created_at, id",
        {"team": team},
    )
    return await cur.fetchall()


async def outbound_for(conn: AsyncConn, team: str, severity: str) -> list[dict[str, Any]]:
    """The enabled outbound integrations that receive this team's incidents of `severity`."""
    cur = await conn.execute(
        f"select {_COLUMNS} from integrations where key_sha256 is null and enabled"
        " and team = %s and (severities = '{}' or %s = any(severities)) order by created_at",
        (team, severity),
    )
    return await cur.fetchall()


_LINK_COLUMNS = (
    "incident_id, integration_id, system, remote_id, remote_key, remote_url, remote_status,"
    " last_synced_at"
)


async def links_for(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_LINK_COLUMNS} from integration_links where incident_id = %s order by id",
        (incident_id,),
    )
    return await cur.fetchall()


async def link(conn: AsyncConn, incident_id: str, integration_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_LINK_COLUMNS} from integration_links"
        " where incident_id = %s and integration_id = %s",
        (incident_id, integration_id),
    )
    return await cur.fetchone()


async def link_by_remote(conn: AsyncConn, system: str, remote_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_LINK_COLUMNS} from integration_links where system = %s and remote_id = %s",
        (system, remote_id),
    )
    return await cur.fetchone()


async def upsert_link(conn: AsyncConn, values: dict[str, Any]) -> None:
    await conn.execute(
        "insert into integration_links (incident_id, integration_id, system, remote_id,"
        " remote_key, remote_url, remote_status) values (%(incident_id)s, %(integration_id)s,"
        " %(system)s, %(remote_id)s, %(remote_key)s, %(remote_url)s, %(remote_status)s)"
        " on conflict (incident_id, integration_id) do update set"
        " remote_status = excluded.remote_status, last_synced_at = now()",
        values,
    )


async def set_remote_status(
    conn: AsyncConn, incident_id: str, integration_id: UUID, remote_status: str
) -> None:
    await conn.execute(
        "update integration_links set remote_status = %s, last_synced_at = now()"
        " where incident_id = %s and integration_id = %s",
        (remote_status, incident_id, integration_id),
    )


_SYNC_INSERT = (
    "insert into integration_syncs (sync_id, incident_id, integration_id, system, action,"
    " status, attempts, last_error, next_attempt_at) values (%(sync_id)s, %(incident_id)s,"
    " %(integration_id)s, %(system)s, %(action)s, %(status)s, %(attempts)s,"
    " %(last_error)s, %(next_attempt_at)s) on conflict (sync_id) do "
)


async def record_sync(conn: AsyncConn, values: dict[str, Any]) -> None:
    """Create or move one sync's state; `attempts` only ever grows. A replayed dispatch
    announces `pending` again: that must not undo progress, so it changes nothing."""
    if values["status"] == "pending":
        await conn.execute(_SYNC_INSERT + "nothing", values)
        return
    await conn.execute(
        _SYNC_INSERT + "update set status = excluded.status,"
        " attempts = greatest(integration_syncs.attempts, excluded.attempts),"
        " last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at,"
        " updated_at = now()",
        values,
    )


async def syncs(
    conn: AsyncConn, incident_id: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select sync_id, incident_id, integration_id::text, system, action, status, attempts,"
        " last_error, next_attempt_at, created_at, updated_at from integration_syncs"
        " where (%(incident_id)s::text is null or incident_id = %(incident_id)s)"
        " and (%(status)s::text is null or status = %(status)s)"
        " order by created_at, sync_id limit %(limit)s",
        {"incident_id": incident_id, "status": status, "limit": limit},
    )
    return await cur.fetchall()


async def add_timeline(
    conn: AsyncConn, incident_id: str, kind: str, actor: str, note: str, details: dict[str, Any]
) -> None:
    await conn.execute(
        "insert into incident_timeline (incident_id, kind, actor, note, details)"
        " values (%s, %s, %s, %s, %s)",
        (incident_id, kind, actor, note, Jsonb(details)),
    )


async def lock_cursor(conn: AsyncConn, consumer: str) -> tuple[str, int] | None:
    """This consumer's outbox position, locked until the transaction ends (None: another
    worker holds it right now)."""
    await conn.execute(
        "insert into integration_cursors (consumer) values (%s) on conflict do nothing",
        (consumer,),
    )
    cur = await conn.execute(
        "select position_txid::text as txid, position_id from integration_cursors"
        " where consumer = %s for update skip locked",
        (consumer,),
    )
    row = await cur.fetchone()
    return None if row is None else (row["txid"], int(row["position_id"]))


async def set_cursor(conn: AsyncConn, consumer: str, position: tuple[str, int]) -> None:
    await conn.execute(
        "update integration_cursors set position_txid = %s::xid8, position_id = %s,"
        " updated_at = now() where consumer = %s",
        (position[0], position[1], consumer),
    )
