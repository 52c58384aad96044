"""The event feed: events in commit-safe order, resumable from the last event_id seen."""

from __future__ import annotations

from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import ValidationFailed
from incident_service.events import repository
from incident_service.events.schemas import Event

_START = ("0", 0)


async def read_feed(
    conn: AsyncConn,
    *,
    after: UUID | None,
    limit: int,
    incident_id: str | None,
    team: str | None = None,
) -> list[Event]:
    """Events after `after`; with `team`, only those of that team's incidents."""
    position = _START
    if after is not None:
        found = await repository.position_of(conn, after)
        if found is None:
            msg = "unknown event id in 'after'"
            raise ValidationFailed(
                msg, [{"key": "after", "message": "no such event", "source": "query"}]
            )
        position = found
    rows = await repository.page(
        conn, after=position, limit=limit, incident_id=incident_id, team=team
    )
    return [Event.from_row(row) for row in rows]


async def head(conn: AsyncConn) -> tuple[str, int]:
    """Where a consumer starting now begins: after every event readable now."""
    return await repository.head(conn)


async def changed_incidents(
    conn: AsyncConn, *, after: tuple[str, int], team: str | None, limit: int = 500
) -> tuple[tuple[str, int], set[str]]:
    """The incidents (of `team`, when given: filtered in SQL) with events after position
    `after`, and the position after them."""
    rows = await repository.page(conn, after=after, limit=limit, incident_id=None, team=team)
    if not rows:
        return after, set()
    last = rows[-1]
    return (last["txid"], last["id"]), {r["incident_id"] for r in rows if r["incident_id"]}
