"""HTTP routes: an incident's stakeholder updates, and a team's update cadence."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from incident_service.routing import Conn, IncidentId, Me
from incident_service.updates import service
from incident_service.updates.schemas import (
    Cadence,
    CadenceRequest,
    PostedUpdate,
    StakeholderUpdate,
    UpdateCreate,
)

Slug = Annotated[str, PathParameter(min_length=1, max_length=100, description="the team")]


class StakeholderUpdateController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/updates"
    tags = ["updates"]

    @post(
        "/",
        summary="Post a stakeholder update",
        description="What people outside the response are told (the status page and chat "
        "show it): a public `status` (investigating, identified, monitoring, resolved; left "
        "out, the incident's own) and a Markdown `message`, answered with `message_html` "
        "(raw HTML escaped). Recorded on the timeline (`stakeholder_update`) and in the "
        "event feed (`incident_update_posted`); it restarts the update cadence's clock. "
        "409 for a CLOSED incident.",
        status_code=201,
    )
    async def post_update(
        self, conn: Conn, principal: Me, incident_id: IncidentId, data: JSONBody[UpdateCreate]
    ) -> PostedUpdate:
        return await service.post(conn, principal, incident_id, data)

    @get("/", summary="An incident's stakeholder updates, newest first")
    async def list_updates(
        self,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        before: Annotated[
            int | None,
            QueryParameter(ge=1, le=2**62, description="only updates older than this id"),
        ] = None,
    ) -> list[StakeholderUpdate]:
        return await service.list_updates(conn, principal, incident_id, limit=limit, before=before)


class UpdateCadenceController(Controller):
    path = "/api/v1/teams/{slug:str}/update-cadence"
    tags = ["updates"]
    opt = {"write_scope": "config:write"}

    @get(
        "/",
        summary="A team's stakeholder update cadence",
        description="Minutes between updates by severity (null: no reminders), the "
        "severities that follow the default (SEV1 30, SEV2 60, SEV3 240, SEV4 none) and "
        "who set the others. An active incident whose update is overdue raises a reminder "
        "(`incident_update_due`) once per interval.",
    )
    async def get_cadence(self, conn: Conn, principal: Me, slug: Slug) -> Cadence:
        return await service.get_cadence(conn, principal, slug)

    @put(
        "/",
        summary="Set a team's stakeholder update cadence",
        description="Replaces the team's cadence: each severity named takes its minutes "
        "(null: no reminders), the others follow the default. Needs `config:write`.",
    )
    async def put_cadence(
        self, conn: Conn, principal: Me, slug: Slug, data: JSONBody[CadenceRequest]
    ) -> Cadence:
        return await service.put_cadence(conn, principal, slug, data.every_minutes)
