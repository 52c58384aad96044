"""HTTP routes of links between incidents (`/api/v1/incidents/{incident_id}/links`)."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from incident_service.auth.schemas import Principal
from incident_service.links import service
from incident_service.links.schemas import Link, LinkCreate
from incident_service.routing import Conn, IncidentId, RowId


class LinkController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/links"
    tags = ["incidents"]

    @post(
        "/",
        status_code=201,
        summary="Link another incident to this one",
        description="`type` says what the other incident is to this one (`parent`, "
        "`child`, `related`). A pair of incidents has at most one link: linking them again "
        "(either way round) is a 409 naming the existing link. Linking an incident to "
        "itself is a 400; an incident the key cannot see is a 404.",
    )
    async def add_link(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[LinkCreate],
    ) -> Response[Link]:
        link = await service.add_link(conn, incident_id, data, principal=principal)
        return Response(link, status_code=201)

    @get("/", summary="An incident's links, each as seen from it, oldest first")
    async def list_links(
        self, conn: Conn, principal: NamedDependency[Principal], incident_id: IncidentId
    ) -> list[Link]:
        return await service.list_links(conn, incident_id, principal=principal)

    @delete(
        "/{link_id:int}",
        summary="Remove a link (recorded on both incidents' timelines)",
    )
    async def remove_link(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        link_id: RowId,
    ) -> None:
        await service.remove_link(conn, incident_id, link_id, principal=principal)
