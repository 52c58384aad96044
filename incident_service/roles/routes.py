"""HTTP routes of incident roles: a team's roles (`/api/v1/teams/{slug}/roles`, writes need
`config:write`), who holds them on an incident and the incident's checklist
(`/api/v1/incidents/{incident_id}/roles|checklist`, writes need `incidents:write`)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.params import JSONBody, PathParameter

from incident_service.roles import service
from incident_service.roles.schemas import (
    ROLE_SLUG,
    ChecklistItem,
    ChecklistTick,
    Holding,
    IncidentRoles,
    Role,
    RoleAssignment,
    RoleCreate,
    RoleUpdate,
)
from incident_service.routing import Conn, IncidentId, Me, RowId, TeamSlug

RoleName = Annotated[
    str, PathParameter(pattern=ROLE_SLUG, description="commander, scribe, communications, ...")
]


class TeamRoleController(Controller):
    path = "/api/v1/teams/{slug:str}/roles"
    tags = ["roles"]
    opt = {"write_scope": "config:write"}

    @get("/", summary="The roles of a team's incidents: the built-in ones and its own")
    async def list_roles(self, conn: Conn, principal: Me, slug: TeamSlug) -> list[Role]:
        return await service.list_roles(conn, slug, principal)

    @post(
        "/",
        status_code=201,
        summary="Define a role for a team's incidents (instructions and tasks)",
    )
    async def create_role(
        self, conn: Conn, principal: Me, slug: TeamSlug, data: JSONBody[RoleCreate]
    ) -> Role:
        return await service.create_role(conn, slug, data, principal)

    @patch(
        "/{role:str}",
        summary="Change a team's role (only the fields sent; built-in roles are fixed)",
    )
    async def update_role(
        self, conn: Conn, principal: Me, slug: TeamSlug, role: RoleName, data: JSONBody[RoleUpdate]
    ) -> Role:
        return await service.update_role(conn, slug, role, data, principal)


class IncidentRoleController(Controller):
    path = "/api/v1/incidents/{incident_id:str}"
    tags = ["roles"]

    @get("/roles", summary="Who holds each role now, and who held it before")
    async def incident_roles(self, conn: Conn, incident_id: IncidentId) -> IncidentRoles:
        return await service.incident_roles(conn, incident_id)

    @put(
        "/roles/{role:str}",
        summary="Give a role to a member of the incident's team (relieving its holder)",
        description="The role's tasks join the incident's checklist the first time it is "
        "assigned. The holder again is a 200 that records nothing.",
    )
    async def assign(
        self,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        role: RoleName,
        data: JSONBody[RoleAssignment],
    ) -> Holding:
        return await service.assign(conn, incident_id, role, data, principal)

    @delete("/roles/{role:str}", summary="Relieve the role's holder (nobody holding it: no-op)")
    async def relieve(
        self, conn: Conn, principal: Me, incident_id: IncidentId, role: RoleName
    ) -> None:
        await service.relieve(conn, incident_id, role, principal)

    @get("/checklist", summary="The tasks of the incident's roles, ticked or not")
    async def checklist(self, conn: Conn, incident_id: IncidentId) -> list[ChecklistItem]:
        return await service.checklist(conn, incident_id)

    @put(
        "/checklist/{item_id:int}",
        summary="Tick or untick a checklist item (who and when are recorded)",
    )
    async def tick(
        self,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        item_id: RowId,
        data: JSONBody[ChecklistTick],
    ) -> ChecklistItem:
        return await service.tick(conn, incident_id, item_id, data, principal)
