"""An incident's page and the actions a responder takes there.

Every action is a plain form that posts and is answered 303 back to the page (htmx, with
`hx-boost`, does the same without a full reload). A refused action (the lifecycle forbids
the move, a field is invalid) shows the page again with the API's message, as a 4xx. The
path parameter is `incident_id`, so the guard answers 404 for another team's incident
before any of this runs.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Template

from incident_service.console.forms import parse
from incident_service.console.incident_view import incident_view
from incident_service.console.pages import page
from incident_service.errors import IncidentError, NotFound, bad_field, missing_incident
from incident_service.escalation.manual import escalate_now
from incident_service.escalation.policies import Actor
from incident_service.escalation.schemas import EscalationRequest
from incident_service.incidents import edits
from incident_service.incidents import service as incidents
from incident_service.incidents.schemas import IncidentPatch, StatusUpdateRequest
from incident_service.merge import service as merge
from incident_service.merge.schemas import MergeRequest
from incident_service.notes import service as notes
from incident_service.notes.schemas import NoteCreate
from incident_service.predictions.similar import similar
from incident_service.principal import Principal, Scope
from incident_service.responses import service as responses
from incident_service.roles import service as roles
from incident_service.roles.schemas import RoleAssignment
from incident_service.routing import Conn
from incident_service.updates import service as updates
from incident_service.updates.schemas import UpdateCreate

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
IncidentId = Annotated[str, PathParameter(max_length=100)]
Me = NamedDependency[Principal]


def _back(incident_id: str, section: str) -> Redirect:
    return Redirect(f"/ui/incidents/{incident_id}#{section}", status_code=303)


class IncidentPages(Controller):
    path = "/ui/incidents/{incident_id:str}"
    include_in_schema = False

    @get("/")
    async def incident_page(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        kind: Annotated[str | None, QueryParameter(max_length=50)] = None,
    ) -> Template:
        view = await incident_view(conn, principal, incident_id, kind=kind)
        view["can_write"] = principal.allows(Scope.INCIDENTS_WRITE)
        return page(request, "incident.html", view)

    @get("/similar")
    async def similar_incidents(
        self, request: Request[Any, Any, Any], conn: Conn, principal: Me, incident_id: IncidentId
    ) -> Template:
        """Loaded after the page (the slowest part to read), or opened as a page without
        JavaScript."""
        found = await similar(conn, incident_id, limit=5, caller_team=principal.team)
        fragment = request.headers.get("hx-request") == "true"
        return page(
            request,
            "incident_similar.html",
            {"incident_id": incident_id, "similar": found, "fragment": fragment},
        )

    async def _refused(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Principal,
        incident_id: str,
        error: IncidentError,
    ) -> Template:
        await conn.rollback()  # nothing of the refused action is kept
        view = await incident_view(conn, principal, incident_id)
        body = error.body()
        view |= {
            "can_write": principal.allows(Scope.INCIDENTS_WRITE),
            "error": error.message,
            "error_fields": body.get("extra") if isinstance(body.get("extra"), list) else [],
        }
        return page(request, "incident.html", view, status_code=error.status_code)

    async def _act(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Principal,
        incident_id: str,
        section: str,
        action: Any,
    ) -> Response[Any]:
        try:
            await action()
        except IncidentError as error:
            named = error.extra.get("extra") if error.status_code == 404 else None
            if error.status_code in (401, 403, 404) and not named:
                raise  # not the page's to show: sign in, or nothing to see
            # A 404 that names a form field (a merge target) is the form's error.
            return await self._refused(request, conn, principal, incident_id, error)
        return _back(incident_id, section)

    @post("/status", status_code=303)
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        state: State,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        async def action() -> None:
            change = parse(StatusUpdateRequest, data)
            await incidents.change_status(
                conn,
                incident_id,
                change,
                actor=principal.name,
                scorer=state.get("scorer"),
                user_id=principal.user_id,
            )

        return await self._act(request, conn, principal, incident_id, "summary", action)

    @post("/severity", status_code=303)
    async def change_severity(
        self,
        request: Request[Any, Any, Any],
        state: State,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        async def action() -> None:
            if not data.get("severity"):
                raise bad_field("severity", "choose a severity")
            await edits.edit_incident(
                conn,
                incident_id,
                parse(IncidentPatch, data),
                principal=principal,
                if_match=None,
                scorer=state.get("scorer"),
                policies=state.get("response_policies"),
            )

        return await self._act(request, conn, principal, incident_id, "summary", action)

    @post("/notes", status_code=303)
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        async def action() -> None:
            await notes.add_note(conn, incident_id, parse(NoteCreate, data), principal=principal)

        return await self._act(request, conn, principal, incident_id, "notes", action)

    @post("/updates", status_code=303)
    async def post_update(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        async def action() -> None:
            await updates.post(conn, principal, incident_id, parse(UpdateCreate, data))

        return await self._act(request, conn, principal, incident_id, "updates", action)

    @post("/escalate", status_code=303)
    async def escalate(
        self,
        request: Request[Any, Any, Any],
        state: State,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        async def action() -> None:
            asked = parse(EscalationRequest, data)
            await escalate_now(
                conn,
                state.settings,
                incident_id,
                target_level=asked.target_level,
                reason=asked.reason,
                actor=Actor(principal.name),
            )

        return await self._act(request, conn, principal, incident_id, "escalation", action)

    @post("/roles", status_code=303)
    async def assign_role(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        """Give a role to a member of the team, or take it (`user_id` left out: the person
        signed in)."""

        async def action() -> None:
            role = (data.get("role") or "").strip()
            if not role:
                raise bad_field("role", "choose a role")
            user_id: object = data.get("user_id") or principal.user_id
            if user_id is None:
                raise bad_field("user_id", "this key acts for nobody: choose whom to give it to")
            assignment = parse(RoleAssignment, {}, user_id=user_id)
            await roles.assign(conn, incident_id, role, assignment, principal)

        return await self._act(request, conn, principal, incident_id, "roles", action)

    @post("/merge", status_code=303)
    async def merge_into(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        """Merge this incident into the one named (`target_id`): the same as the API's
        POST /api/v1/incidents/{target}/merge with this one as the source."""
        target = (data.get("target_id") or "").strip()

        async def action() -> None:
            if not target:
                raise bad_field("target_id", "name the incident to merge this one into")
            request_ = parse(
                MergeRequest, {"reason": data.get("reason", "")}, source_incident_ids=[incident_id]
            )
            try:
                await merge.merge(conn, target, request_, principal=principal)
            except NotFound as missing:
                if missing.message != missing_incident(target).message:
                    raise
                # Another team's incident reads exactly as one that is not there.
                raise missing_incident(target, field="target_id") from missing

        response = await self._act(request, conn, principal, incident_id, "summary", action)
        if isinstance(response, Redirect):
            return Redirect(f"/ui/incidents/{target}", status_code=303)
        return response

    @post("/responses/{response_id:str}/{command:str}", status_code=303)
    async def response_command(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        response_id: Annotated[str, PathParameter(max_length=100)],
        command: Annotated[str, PathParameter(max_length=10)],
        data: Form,
    ) -> Response[Any]:
        async def action() -> None:
            move = {"retry": responses.retry, "cancel": responses.cancel}.get(command)
            if move is None:
                raise bad_field("command", "retry or cancel")
            await move(
                conn,
                incident_id,
                response_id,
                actor=principal.name,
                team=principal.team,
                note=data.get("note") or None,
            )

        return await self._act(request, conn, principal, incident_id, "responses", action)
