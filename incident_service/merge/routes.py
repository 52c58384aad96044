"""HTTP route of merging (`POST /api/v1/incidents/{id}/merge`)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from incident_service.db import AsyncConn
from incident_service.merge import service
from incident_service.merge.schemas import MergeRequest, MergeResult
from incident_service.principal import Principal
from incident_service.routing import IncidentId


class MergeController(Controller):
    path = "/api/v1/incidents"
    tags = ["incidents"]

    @post(
        "/{incident_id:str}/merge",
        status_code=200,
        summary="Merge duplicate incidents into this one",
        description="Each source becomes MERGED with `merged_into` set to this incident; its "
        "alerts (and their dedup keys: later alerts feed this incident) move here; its "
        "escalation and pending automated responses stop; both timelines record it "
        "(`merged_into`, `merged_from`) and the feed carries `incident_merged`. All sources "
        "or none: 404 for a source this key cannot see, 409 for this incident among the "
        "sources, a target or source that is not active (RESOLVED, CLOSED, MERGED).",
    )
    async def merge(
        self,
        conn: NamedDependency[AsyncConn],
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[MergeRequest],
    ) -> MergeResult:
        return await service.merge(conn, incident_id, data, principal=principal)
