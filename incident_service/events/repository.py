"""Reading the transactional outbox in an order a consumer can resume from safely."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn, fetch_all, fetch_one

# Only rows written by transactions older than every transaction still running are
# returned: a row that commits late always has a txid at or above that horizon, so it can
# never appear behind a position a consumer has already passed.
_PAGE = """
select id, event_id, txid::text as txid, event_type, incident_id, payload, created_at
from outbox
where txid < pg_snapshot_xmin(pg_current_snapshot())
  and (txid, id) > (%(txid)s::xid8, %(id)s)
  {incident_filter}
  {team_filter}
-- Qualified: a bare `txid` here would name the text column above and sort '999' after
-- '1000' (found by the PostgreSQL-restart fault test once txids grew a digit).
order by outbox.txid, outbox.id
limit %(limit)s
"""


async def position_of(conn: AsyncConn, event_id: UUID) -> tuple[str, int] | None:
    row = await fetch_one(
        conn, "select txid::text as txid, id from outbox where event_id = %s", (event_id,)
    )
    return None if row is None else (row["txid"], row["id"])


async def page(
    conn: AsyncConn,
    *,
    after: tuple[str, int],
    limit: int,
    incident_id: str | None,
    team: str | None = None,
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"txid": after[0], "id": after[1], "limit": limit}
    incident_filter = team_filter = ""
    if incident_id is not None:
        incident_filter = "and incident_id = %(incident_id)s"
        params["incident_id"] = incident_id
    if team is not None:
        team_filter = (
            "and incident_id in (select incident_id from incidents where assigned_team = %(team)s)"
        )
        params["team"] = team
    return await fetch_all(
        conn, _PAGE.format(incident_filter=incident_filter, team_filter=team_filter), params
    )


async def head(conn: AsyncConn) -> tuple[str, int]:
    """The position of the newest event a consumer may read now (the start when none)."""
    row = await fetch_one(
        conn,
        "select txid::text as txid, id from outbox"
        " where txid < pg_snapshot_xmin(pg_current_snapshot())"
        " order by outbox.txid desc, outbox.id desc limit 1",
    )
    return ("0", 0) if row is None else (row["txid"], row["id"])
