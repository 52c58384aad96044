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
