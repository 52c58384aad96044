"""SQL for subscribers and their delivery positions in the outbox."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn
from incident_service.events import repository as outbox

_COLUMNS = """id, name, team, kind, url, subject, secret, event_types, active,
    position_txid::text as position_txid, position_id, delivered_count, failures, last_error,
    next_attempt_at, created_at, updated_at, updated_by, updated_on_behalf_of"""

# `scope`: the team of the key asking (None: an unrestricted key sees every subscriber).
# A team key never sees another team's subscribers, nor the all-teams ones.
_VISIBLE = "(%(scope)s::text is null or team = %(scope)s::text)"


async def insert(conn: AsyncConn, v: dict[str, Any]) -> dict[str, Any] | None:
    # "now" starts at the oldest transaction still running: everything older has been
    # written, and anything that commits later has a txid at or above it.
    cur = await conn.execute(
        f"""insert into event_subscribers (
                name, team, kind, url, subject, secret, event_types, active, updated_by,
                updated_on_behalf_of, position_txid)
            values (%(name)s, %(team)s, %(kind)s, %(url)s, %(subject)s, %(secret)s,
                    %(event_types)s, %(active)s, %(actor)s, %(on_behalf_of)s,
                    case when %(start)s = 'now' then pg_snapshot_xmin(pg_current_snapshot())
                         else '0'::xid8 end)
            on conflict on constraint event_subscribers_team_name_key do nothing
            returning {_COLUMNS}""",
        v | {"event_types": Jsonb(v["event_types"])},
    )
    return await cur.fetchone()


async def update(
    conn: AsyncConn, sid: UUID, v: dict[str, Any], scope: str | None
) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"""update event_subscribers set name = %(name)s, team = %(team)s, kind = %(kind)s,
                url = %(url)s, subject = %(subject)s, secret = coalesce(%(secret)s, secret),
                event_types = %(event_types)s, active = %(active)s, updated_by = %(actor)s,
                updated_on_behalf_of = %(on_behalf_of)s,
                updated_at = now(), failures = 0, next_attempt_at = null
            where id = %(id)s and {_VISIBLE} returning {_COLUMNS}""",
        v | {"event_types": Jsonb(v["event_types"]), "id": sid, "scope": scope},
    )
    return await cur.fetchone()


async def get(conn: AsyncConn, sid: UUID, scope: str | None = None) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_COLUMNS} from event_subscribers where id = %(id)s and {_VISIBLE}",
        {"id": sid, "scope": scope},
    )
    return await cur.fetchone()


async def named(conn: AsyncConn, name: str, team: str | None) -> dict[str, Any] | None:
    """The subscriber of this name among `team`'s (or the all-teams ones when None)."""
    cur = await conn.execute(
        f"""select {_COLUMNS} from event_subscribers
            where name = %s and team is not distinct from %s""",
        (name, team),
    )
    return await cur.fetchone()


async def list_all(conn: AsyncConn, scope: str | None) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_COLUMNS} from event_subscribers where {_VISIBLE} order by name",
        {"scope": scope},
    )
    return await cur.fetchall()


async def delete(conn: AsyncConn, sid: UUID, scope: str | None) -> bool:
    cur = await conn.execute(
        f"delete from event_subscribers where id = %(id)s and {_VISIBLE} returning id",
        {"id": sid, "scope": scope},
    )
    return await cur.fetchone() is not None


async def due(conn: AsyncConn) -> list[UUID]:
    cur = await conn.execute(
        "select id from event_subscribers where active"
        " and (next_attempt_at is null or next_attempt_at <= now())"
    )
    return [r["id"] for r in await cur.fetchall()]


async def horizon(conn: AsyncConn) -> str:
    """The oldest transaction still running: every outbox row below it is committed."""
    cur = await conn.execute("select pg_snapshot_xmin(pg_current_snapshot())::text as h")
    row = await cur.fetchone()
    assert row is not None
    return str(row["h"])


async def pending_events(conn: AsyncConn, sub: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    # The one reader of the outbox's order, shared with the event feed, and its team filter:
    # a team's subscriber is sent the events of that team's incidents only.
    return await outbox.page(
        conn,
        after=(sub["position_txid"], sub["position_id"]),
        limit=limit,
        incident_id=None,
        team=sub["team"],
    )


async def advance(
    conn: AsyncConn,
    sid: UUID,
    position: tuple[str, int],
    delivered: int,
    *,
    error: str | None,
    retry_in_s: float | None,
) -> None:
    await conn.execute(
        """update event_subscribers set position_txid = %s::xid8, position_id = %s,
               delivered_count = delivered_count + %s,
               failures = case when %s::text is null then 0 else failures + 1 end,
               last_error = %s::text,
               next_attempt_at = case when %s::float8 is null then null
                                      else now() + make_interval(secs => %s::float8) end
           where id = %s""",
        (position[0], position[1], delivered, error, error, retry_in_s, retry_in_s, sid),
    )
