"""HTTP routes of issue 6: similar incidents (predictions ride on the incident itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from incident_service.auth.schemas import Principal
from incident_service.db import AsyncConn
from incident_service.predictions.similar import Match, similar


class SimilarIncident(msgspec.Struct, kw_only=True):
    """A past incident like this one, and why it matched."""

    incident_id: str
    title: str
    severity: str
    status: str
    assigned_team: str
    affected_services: list[str]
    created_at: datetime
    resolved_at: datetime | None
    time_to_resolve_hours: float | None
    score: float
    reason: str
    shared_services: list[str]
    shared_words: list[str]

    @classmethod
    def of(cls, m: Match) -> SimilarIncident:
        hours = (
            (m.resolved_at - m.created_at).total_seconds() / 3600.0
            if m.resolved_at is not None
            else None
        )
        return cls(
            incident_id=m.incident_id,
            title=m.title,
            severity=m.severity,
            status=m.status,
            assigned_team=m.assigned_team,
            affected_services=m.affected_services,
            created_at=m.created_at,
            resolved_at=m.resolved_at,
            time_to_resolve_hours=hours,
            score=m.score,
            reason=m.reason,
            shared_services=m.shared_services,
            shared_words=m.shared_words,
        )


class SimilarIncidents(msgspec.Struct, kw_only=True):
    incident_id: str
    similar: list[SimilarIncident]


@get(
    "/api/v1/incidents/{incident_id:str}/similar",
    summary="Past incidents most like this one",
    description="Incidents opened before this one that share words of the title and "
    "description or affected services, most similar first, each with the reason it matched "
    "and how long it took to resolve. A key restricted to a team sees its team's only.",
    tags=["incidents"],
)
async def similar_incidents(
    conn: NamedDependency[AsyncConn],
    principal: NamedDependency[Principal],
    incident_id: Annotated[str, PathParameter(max_length=100)],
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 5,
) -> SimilarIncidents:
    found = await similar(conn, incident_id, limit=limit, team=principal.team)
    return SimilarIncidents(incident_id=incident_id, similar=[SimilarIncident.of(m) for m in found])


PREDICTION_ROUTES: list[ControllerRouterHandler] = [similar_incidents]
