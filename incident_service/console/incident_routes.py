"""An incident's page and the actions a responder takes there.

Every action is a plain form that posts and is answered 303 back to the page (htmx, with
`hx-boost`, does the same without a full reload). A refused action (the lifecycle forbids
the move, a field is invalid) shows the page again with the API's message, as a 4xx. The
path parameter is `incident_id`, so the guard answers 404 for another team's incident
before any of this runs.

The form actions are the rows of `incident_actions.ACTIONS`, each made a route by
`_posting`; the retry and cancel of an automated response have two path parameters of their
own, so they keep a handler here.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from incident_service.console.incident_actions import ACTIONS, Action, Posted, Run
from incident_service.console.incident_view import incident_view
from incident_service.console.pages import page
from incident_service.errors import IncidentError, bad_field
from incident_service.predictions.similar import similar
from incident_service.principal import Principal, Scope
from incident_service.responses import service as responses
from incident_service.routing import Conn, IncidentId, Me

PAGE = "/ui/incidents/{incident_id:str}"
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
AnyRequest = Request[Any, Any, Any]
_RESPONSE_COMMANDS = {"retry": responses.retry, "cancel": responses.cancel}


async def _refused(
    request: AnyRequest, conn: Conn, principal: Principal, incident_id: str, error: IncidentError
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


async def _act(request: AnyRequest, posted: Posted, section: str, run: Run) -> Response[Any]:
    """`run`, then 303 to the page it names or back to `section`; a refusal it raises is
    the page again with the message."""
    try:
        elsewhere = await run(posted)
    except IncidentError as error:
        named = error.extra.get("extra") if error.status_code == 404 else None
        if error.status_code in (401, 403, 404) and not named:
            raise  # not the page's to show: sign in, or nothing to see
        # A 404 that names a form field (a merge target) is the form's error.
        return await _refused(request, posted.conn, posted.principal, posted.incident_id, error)
    back = elsewhere or f"/ui/incidents/{posted.incident_id}#{section}"
    return Redirect(back, status_code=303)


def _posting(action: Action) -> HTTPRouteHandler:
    """The route of one of the page's form actions."""

    @post(f"{PAGE}{action.path}", status_code=303, include_in_schema=False)
    async def handler(
        request: AnyRequest,
        state: State,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        data: Form,
    ) -> Response[Any]:
        posted = Posted(conn, state, principal, incident_id, data)
        return await _act(request, posted, action.section, action.run)

    return handler


class IncidentPages(Controller):
    path = PAGE
    include_in_schema = False

    @get("/")
    async def incident_page(
        self,
        request: AnyRequest,
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
        self, request: AnyRequest, conn: Conn, principal: Me, incident_id: IncidentId
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

    @post("/responses/{response_id:str}/{command:str}", status_code=303)
    async def response_command(
        self,
        request: AnyRequest,
        state: State,
        conn: Conn,
        principal: Me,
        incident_id: IncidentId,
        response_id: Annotated[str, PathParameter(max_length=100)],
        command: Annotated[str, PathParameter(max_length=10)],
        data: Form,
    ) -> Response[Any]:
        async def run(p: Posted) -> None:
            move = _RESPONSE_COMMANDS.get(command)
            if move is None:
                raise bad_field("command", "retry or cancel")
            note = p.form.get("note") or None
            team = p.principal.team
            await move(
                p.conn, p.incident_id, response_id, actor=p.principal.name, team=team, note=note
            )

        posted = Posted(conn, state, principal, incident_id, data)
        return await _act(request, posted, "responses", run)


INCIDENT_ROUTES: list[ControllerRouterHandler] = [
    IncidentPages,
    *(_posting(action) for action in ACTIONS),
]
