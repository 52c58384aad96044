"""The incident list (the console's home page)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from incident_service.console.pages import page
from incident_service.incidents import service as incidents
from incident_service.principal import Principal
from incident_service.routing import Conn


class IncidentListPages(Controller):
    path = "/ui"
    include_in_schema = False

    @get("/")
    async def incident_list(
        self, request: Request[Any, Any, Any], conn: Conn, principal: NamedDependency[Principal]
    ) -> Template:
        team, possible = principal.narrowed(None)
        items = []
        if possible:
            result = await incidents.list_incidents(
                conn, filters={"assigned_team": team}, cursor=None, limit=50
            )
            items = result.items
        return page(request, "incidents.html", {"incidents": items})
