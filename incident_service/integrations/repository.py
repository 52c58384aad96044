"""SQL for integrations, vendor links, sync state and the dispatcher's cursor."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.changes import entry_of_parameters
from incident_service.crud import Table
from incident_service.db import AsyncConn, fetch_all, fetch_one

INTEGRATIONS = Table(
    name="integrations",
    noun="integration",
    columns="id, kind, name, team, severities, config, key_sha256, key_prefix, enabled,"
    " created_by, created_at, updated_at, rate_per_min, rate_burst",
    order_by="created_at, id",
    jsonb=frozenset({"config"}),
)
_COLUMNS = INTEGRATIONS.columns


async def audit(
    conn: AsyncConn, integration_id: UUID, action: str, actor: str, details: dict[str, Any]
) -> None:
    await conn.execute(
        "insert into integration_audit (integration_id, action, actor, details)"
        " values (%s, %s, %s, %s)",
        (integration_id, action, actor[:200], Jsonb(details)),
    )


# One token bucket per inbound integration, refilled by the time since its last request
# and taken from in the same statement, so every API replica shares it. The integration's
# own limits (else the defaults) are copied in, so a changed limit applies at once.
_TAKE_TOKEN = """
insert into integration_rate_buckets as b (integration_id, tokens, rate_per_s, burst, allowed)
select id, coalesce(rate_burst, %(burst)s) - 1, coalesce(rate_per_min, %(per_min)s) / 60.0,
       coalesce(rate_burst, %(burst)s), true
from integrations where key_sha256 = %(sha)s and enabled
on conflict (integration_id) do update set
    tokens = case when {refill} >= 1 then {refill} - 1 else {refill} end,
    allowed = {refill} >= 1,
    rate_per_s = excluded.rate_per_s,
    burst = excluded.burst,
    updated_at = clock_timestamp()
returning allowed, tokens, rate_per_s
""".format(
    refill="least(excluded.burst, b.tokens"
    " + extract(epoch from clock_timestamp() - b.updated_at) * excluded.rate_per_s)"
)


async def take_intake_token(
    conn: AsyncConn, key_sha256: str, per_min: int, burst: int
) -> dict[str, Any] | None:
    """Whether the integration with this key may take one more event now (None: no
    enabled integration has the key)."""
    return await fetch_one(
        conn, _TAKE_TOKEN, {"sha": key_sha256, "per_min": per_min, "burst": burst}
    )


async def remember_webhook(conn: AsyncConn, digest: str, keep_s: float) -> bool:
    """Record a webhook as received; False when it was received before (a replay) and
    its record has not expired. Inside the request's transaction: a request that fails
    is forgotten with its rollback, so the sender's retry is not taken for a replay."""
    return (
        await fetch_one(
            conn,
            "insert into webhook_replays as r (digest, expires_at)"
            " values (%s, now() + make_interval(secs => %s))"
            " on conflict (digest) do update set expires_at = excluded.expires_at"
            " where r.expires_at < now() returning 1",
            (digest, keep_s),
        )
        is not None
    )


async def forget_expired_webhooks(conn: AsyncConn, limit: int = 500) -> None:
    await conn.execute(
        "delete from webhook_replays where digest in (select digest from webhook_replays"
        " where expires_at < now() limit %s for update skip locked)",
        (limit,),
    )


async def by_key(
    conn: AsyncConn, key_sha256: str, lock_dedup_key: str | None = None
) -> dict[str, Any] | None:
    """The enabled integration with this key; with `lock_dedup_key`, also takes the
    (integration, dedup key) lock of `alerts.repository.lock_key` in the same round trip."""
    if lock_dedup_key is None:
        return await fetch_one(
            conn,
            f"select {_COLUMNS} from integrations where key_sha256 = %s and enabled",
            (key_sha256,),
        )
    return await fetch_one(
        conn,
        f"select {_COLUMNS}, pg_advisory_xact_lock(hashtextextended(id::text || ':' || %s, 0))"
        " from integrations where key_sha256 = %s and enabled",
        (lock_dedup_key, key_sha256),
    )


async def by_id(conn: AsyncConn, integration_id: UUID) -> dict[str, Any] | None:
    """Any team's integration (the outbound sync's read)."""
    return await INTEGRATIONS.get(conn, integration_id, None)


async def outbound_for(conn: AsyncConn, team: str, severity: str) -> list[dict[str, Any]]:
    """The enabled outbound integrations that receive this team's incidents of `severity`."""
    return await fetch_all(
        conn,
        f"select {_COLUMNS} from integrations where key_sha256 is null and enabled"
        " and team = %s and (severities = '{}' or %s = any(severities)) order by created_at",
        (team, severity),
    )


_LINK_COLUMNS = (
    "incident_id, integration_id, system, remote_id, remote_key, remote_url, remote_status,"
    " last_synced_at"
)


async def link(conn: AsyncConn, incident_id: str, integration_id: UUID) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        f"select {_LINK_COLUMNS} from integration_links"
        " where incident_id = %s and integration_id = %s",
        (incident_id, integration_id),
    )


async def link_by_remote(conn: AsyncConn, system: str, remote_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        f"select {_LINK_COLUMNS} from integration_links where system = %s and remote_id = %s",
        (system, remote_id),
    )


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
    conn: AsyncConn, incident_id: str | None, status: str | None, limit: int, team: str | None
) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select s.sync_id, s.incident_id, s.integration_id::text, s.system, s.action,"
        " s.status, s.attempts, s.last_error, s.next_attempt_at, s.created_at, s.updated_at"
        " from integration_syncs s join integrations i on i.id = s.integration_id"
        " where (%(incident_id)s::text is null or s.incident_id = %(incident_id)s)"
        " and (%(status)s::text is null or s.status = %(status)s)"
        " and (%(team)s::text is null or i.team = %(team)s)"
        " order by s.created_at, s.sync_id limit %(limit)s",
        {"incident_id": incident_id, "status": status, "limit": limit, "team": team},
    )


_ENTRIES = {
    kind: entry_of_parameters(kind)
    for kind in (
        "integration_linked",
        "integration_failed",
        "follow_up_issue_moved",
        "follow_up_issue_stuck",
    )
}


async def add_timeline(
    conn: AsyncConn, incident_id: str, kind: str, actor: str, note: str, details: dict[str, Any]
) -> None:
    """`kind`: integration_linked, integration_failed, or a follow-up's issue moved (or
    not movable) to match the follow-up."""
    await conn.execute(
        _ENTRIES[kind],
        {"incident_id": incident_id, "actor": actor, "note": note, "details": Jsonb(details)},
    )


async def lock_cursor(conn: AsyncConn, consumer: str) -> tuple[str, int] | None:
    """This consumer's outbox position, locked until the transaction ends (None: another
    worker holds it right now)."""
    await conn.execute(
        "insert into integration_cursors (consumer) values (%s) on conflict do nothing",
        (consumer,),
    )
    row = await fetch_one(
        conn,
        "select position_txid::text as txid, position_id from integration_cursors"
        " where consumer = %s for update skip locked",
        (consumer,),
    )
    return None if row is None else (row["txid"], int(row["position_id"]))


async def set_cursor(conn: AsyncConn, consumer: str, position: tuple[str, int]) -> None:
    await conn.execute(
        "update integration_cursors set position_txid = %s::xid8, position_id = %s,"
        " updated_at = now() where consumer = %s",
        (position[0], position[1], consumer),
    )
