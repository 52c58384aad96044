"""`GET /api/v1/events`: the outbox as a resumable feed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from incident_service.auth.schemas import Principal
from incident_service.db import AsyncConn
from incident_service.events import service
from incident_service.events.schemas import Event


class EventController(Controller):
    path = "/api/v1/events"
    tags = ["events"]

    @get(
        "/",
        summary="Events in commit order",
        description="Pass the `event_id` of the last event you processed as `after` to get "
        "the ones that follow; a consumer that always does so misses nothing.",
    )
    async def list_events(
        self,
        conn: NamedDependency[AsyncConn],
        principal: NamedDependency[Principal],
        after: Annotated[UUID | None, QueryParameter()] = None,
        incident_id: Annotated[str | None, QueryParameter(max_length=100)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[Event]:
        return await service.read_feed(
            conn, after=after, limit=limit, incident_id=incident_id, team=principal.team
        )
