"""HTTP routes of follow-ups: per incident (`/api/v1/incidents/{id}/follow-ups`) and
across incidents (`/api/v1/follow-ups`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from incident_service.followups import service
from incident_service.followups.lifecycle import FollowUpPriority, FollowUpState
from incident_service.followups.schemas import FollowUp, FollowUpCreate, FollowUpUpdate
from incident_service.routing import Conn, Cursor, IncidentId, Limit, Me, paged

FollowUpId = Annotated[UUID, PathParameter(description="the follow-up's id")]


class IncidentFollowUpController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/follow-ups"
    tags = ["follow-ups"]

    @post(
        "/",
        status_code=201,
        summary="Add a follow-up to an incident",
        description="`owner_id` is a user's id (400 naming `owner_id` when no active user "
        "has it); `due` a date or an ISO 8601 date-time. Recorded on the incident's "
        "timeline (`follow_up_created`) with its event. A team's Jira integration with "
        "`export_follow_ups` makes its issue.",
    )
    async def create_follow_up(
        self, conn: Conn, principal: Me, incident_id: IncidentId, data: JSONBody[FollowUpCreate]
    ) -> FollowUp:
        return await service.create(conn, incident_id, data, actor=principal.name)

    @get("/", summary="An incident's follow-ups, oldest first")
    async def list_incident_follow_ups(
        self, conn: Conn, principal: Me, incident_id: IncidentId
    ) -> list[FollowUp]:
        return await service.of_incident(conn, incident_id, team=principal.team)


class FollowUpController(Controller):
    path = "/api/v1/follow-ups"
    tags = ["follow-ups"]

    @get(
        "/",
        summary="Follow-ups across incidents, newest first",
        description="Filters combine with AND; `overdue=true`: still to do (open or "
        "in_progress) past their due time. A team key sees its team's only. When more rows "
        'exist, a `Link` header with `rel="next"` carries the next page\'s URL.',
    )
    async def list_follow_ups(
        self,
        request: Request[object, object, State],
        conn: Conn,
        principal: Me,
        owner_id: Annotated[UUID | None, QueryParameter()] = None,
        team: Annotated[str | None, QueryParameter(max_length=100)] = None,
        # `state` names the app state in Litestar: the parameter is read under its name.
        follow_up_state: Annotated[FollowUpState | None, QueryParameter(name="state")] = None,
        priority: Annotated[FollowUpPriority | None, QueryParameter()] = None,
        overdue: Annotated[bool | None, QueryParameter()] = None,
        incident_id: Annotated[str | None, QueryParameter(max_length=100)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[list[FollowUp]]:
        team, possible = principal.narrowed(team)
        if not possible:
            return Response([])
        filters = {
            "team": team,
            "owner_id": owner_id,
            "state": follow_up_state.value if follow_up_state is not None else None,
            "priority": priority.value if priority is not None else None,
            "overdue": overdue,
            "incident_id": incident_id,
        }
        page = await service.search(conn, filters=filters, cursor=cursor, limit=limit)
        return paged(request, self.path, page)

    @get("/{follow_up_id:uuid}", summary="One follow-up")
    async def get_follow_up(self, conn: Conn, principal: Me, follow_up_id: FollowUpId) -> FollowUp:
        return await service.get(conn, follow_up_id, principal.team)

    @patch(
        "/{follow_up_id:uuid}",
        summary="Change a follow-up: title, owner, due, priority, state",
        description="States move open -> in_progress -> done | wont_do, and back to open "
        "(reopen); a move the table forbids is a 409 naming the allowed ones. Only the "
        "fields sent change (`owner_id` or `due` null clears it); each change is recorded "
        "on the incident's timeline (`follow_up_updated`) with its event.",
    )
    async def update_follow_up(
        self, conn: Conn, principal: Me, follow_up_id: FollowUpId, data: JSONBody[FollowUpUpdate]
    ) -> FollowUp:
        return await service.update(
            conn, follow_up_id, data, actor=principal.name, team=principal.team
        )


FOLLOW_UP_ROUTES = [IncidentFollowUpController, FollowUpController]
