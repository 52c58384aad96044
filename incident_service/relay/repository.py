"""SQL for subscribers and their delivery positions in the outbox."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from incident_service.crud import Table
from incident_service.db import AsyncConn, fetch_all, fetch_one
from incident_service.events import repository as outbox

SUBSCRIBERS = Table(
    name="event_subscribers",
    noun="subscriber",
    columns="""id, name, team, kind, url, subject, secret, event_types, active,
    position_txid::text as position_txid, position_id, delivered_count, failures, last_error,
    next_attempt_at, created_at, updated_at, updated_by, updated_on_behalf_of""",
    order_by="name",
    jsonb=frozenset({"event_types"}),
    unique="on constraint event_subscribers_team_name_key",
    private=frozenset({"secret"}),
)

# Where a new subscriber starts reading the outbox. "now" is the oldest transaction still
# running: everything older has been written, and anything that commits later has a txid
# at or above it.
START = {"now": "pg_snapshot_xmin(pg_current_snapshot())", "beginning": "'0'::xid8"}
# A changed subscriber is tried again at once, its failures forgotten.
RESET = {"failures": "0", "next_attempt_at": "null"}


async def get(conn: AsyncConn, sid: UUID) -> dict[str, Any] | None:
    """Any team's subscriber (the relay's read)."""
    return await SUBSCRIBERS.get(conn, sid, None)


async def due(conn: AsyncConn) -> list[UUID]:
    return [
        r["id"]
        for r in await fetch_all(
            conn,
            "select id from event_subscribers where active"
            " and (next_attempt_at is null or next_attempt_at <= now())",
        )
    ]


async def horizon(conn: AsyncConn) -> str:
    """The oldest transaction still running: every outbox row below it is committed."""
    row = await fetch_one(conn, "select pg_snapshot_xmin(pg_current_snapshot())::text as h")
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
               failures = case when %s::text is null then 0
                               when %s > 0 then 1 else failures + 1 end,
               last_error = %s::text,
               next_attempt_at = case when %s::float8 is null then null
                                      else now() + make_interval(secs => %s::float8) end
           where id = %s""",
        (position[0], position[1], delivered, error, delivered, error, retry_in_s, retry_in_s, sid),
    )
