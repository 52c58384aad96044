"""HTTP routes: similar incidents (predictions ride on the incident itself)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from incident_service.auth.schemas import Principal
from incident_service.db import AsyncConn
from incident_service.predictions.schemas import SimilarIncidents
from incident_service.predictions.similar import similar


@get(
    "/api/v1/incidents/{incident_id:str}/similar",
    summary="Past incidents most like this one",
    description="Incidents of the same team opened before this one that share words of "
    "the title and description or affected services, most similar first, each with the "
    "reason it matched and how long it took to resolve. The same list as the post-mortem's.",
    tags=["incidents"],
)
async def similar_incidents(
    conn: NamedDependency[AsyncConn],
    principal: NamedDependency[Principal],
    incident_id: Annotated[str, PathParameter(max_length=100)],
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 5,
) -> SimilarIncidents:
    found = await similar(conn, incident_id, limit=limit, caller_team=principal.team)
    return SimilarIncidents(incident_id=incident_id, similar=found)


PREDICTION_ROUTES: list[ControllerRouterHandler] = [similar_incidents]
