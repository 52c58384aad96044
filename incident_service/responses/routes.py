"""HTTP routes of automated responses and the response-policy file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter

from incident_service.principal import Principal
from incident_service.responses import service
from incident_service.responses.schemas import (
    AutomatedResponse,
    IncidentResponses,
    ResponseCommand,
)
from incident_service.routing import Conn, IncidentId

ResponseId = Annotated[str, PathParameter(max_length=100, description="e.g. INC-20250621-001-R1")]


Command = Callable[..., Awaitable[AutomatedResponse]]


def _command(name: str, run: Command, summary: str) -> HTTPRouteHandler:
    """`POST .../{response_id}/{name}`: a person moves one response (retry, cancel); the
    actor is the principal, a body's `actor` only "on behalf of"."""

    async def handler(
        self: Controller,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        response_id: ResponseId,
        data: JSONBody[ResponseCommand | None] = None,
    ) -> AutomatedResponse:
        cmd = data or ResponseCommand()
        actor = principal.acting_for(cmd.actor)
        return await run(
            conn, incident_id, response_id, actor=actor, team=principal.team, note=cmd.note
        )

    handler.__name__ = handler.__qualname__ = name
    return post(f"/{{response_id:str}}/{name}", status_code=200, summary=summary)(handler)


class ResponseController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/responses"
    tags = ["responses"]

    @get("/", summary="The incident's automated responses and the policy decision behind them")
    async def list_responses(
        self, conn: Conn, principal: NamedDependency[Principal], incident_id: IncidentId
    ) -> IncidentResponses:
        return await service.incident_responses(conn, incident_id, team=principal.team)

    retry = _command(
        "retry", service.retry, "Run a failed or skipped response again (409 otherwise)"
    )
    cancel = _command(
        "cancel",
        service.cancel,
        "Skip a pending or running response (409 when it already finished)",
    )


@get(
    "/api/v1/response-policies",
    tags=["responses"],
    summary="The response-policy file in force (versioned)",
    sync_to_thread=False,
)
def response_policies(state: State) -> dict[str, Any]:
    policies = state.response_policies
    dumped: dict[str, Any] = policies.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
