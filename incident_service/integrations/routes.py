"""HTTP routes of the integration API (`/api/v1/integrations`)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from incident_service.errors import NotFound, outside_team
from incident_service.incidents import service as incidents
from incident_service.incidents.schemas import IntegrationLink
from incident_service.integrations import service, webhooks
from incident_service.integrations.schemas import (
    Integration,
    IntegrationCreate,
    IntegrationUpdate,
    SyncState,
)
from incident_service.routing import Conn, Id, InboundController, Me


class IncidentIntegrations(msgspec.Struct, kw_only=True):
    incident_id: str
    links: list[IntegrationLink]
    syncs: list[SyncState]


class IntegrationController(Controller):
    path = "/api/v1/integrations"
    tags = ["integrations"]
    opt = {"write_scope": "config:write"}

    @post(
        "/",
        status_code=201,
        summary="Create an integration for a team",
        description="Inbound kinds (`events-v2`, `alertmanager`, `grafana`) answer with the "
        "`integration_key` and the `url` to send alerts to; the key is shown only here "
        "(it is stored as a hash). Outbound kinds (`pagerduty`, `jira`, `servicenow`) "
        "receive the team's incidents of the listed `severities`; their credentials come "
        "from the environment, never from this body. `config` is checked against the "
        "kind's own options (docs/integrations.md): an unknown option is a 400. A "
        "team-restricted key creates integrations of its own team only (403).",
    )
    async def create(
        self, conn: Conn, principal: Me, data: JSONBody[IntegrationCreate]
    ) -> Response[Integration]:
        if not principal.sees_team(data.team):
            msg = f"this API key may only create integrations for team {principal.team!r}"
            raise outside_team(msg)
        created = await service.create_integration(conn, data, actor=principal.name)
        return Response(
            created,
            status_code=201,
            headers={"Location": f"{self.path}/{created.integration_id}"},
        )

    @get("/", summary="List integrations (never their keys); a team key sees its own team's")
    async def list_integrations(
        self,
        conn: Conn,
        principal: Me,
        team: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> list[Integration]:
        team, possible = principal.narrowed(team)
        if not possible:
            return []
        return await service.list_integrations(conn, team)

    @get("/{integration_id:uuid}", summary="Get one integration")
    async def get_integration(self, conn: Conn, principal: Me, integration_id: Id) -> Integration:
        return await service.get_integration(conn, integration_id, principal.team)

    @put(
        "/{integration_id:uuid}",
        summary="Change an integration's name, severities, config and intake limits",
        description="The kind, team and key stay; `config` is checked as at creation.",
    )
    async def update_integration(
        self,
        conn: Conn,
        principal: Me,
        integration_id: Id,
        data: JSONBody[IntegrationUpdate],
    ) -> Integration:
        return await service.update_integration(conn, integration_id, data, principal)

    @post(
        "/{integration_id:uuid}/disable",
        status_code=200,
        summary="Disable an integration: its key is refused at once (as an unknown key)",
    )
    async def disable(self, conn: Conn, principal: Me, integration_id: Id) -> Integration:
        return await service.set_enabled(conn, integration_id, False, principal)

    @post("/{integration_id:uuid}/enable", status_code=200, summary="Enable an integration again")
    async def enable(self, conn: Conn, principal: Me, integration_id: Id) -> Integration:
        return await service.set_enabled(conn, integration_id, True, principal)

    @post(
        "/{integration_id:uuid}/rotate-key",
        status_code=200,
        summary="Give an inbound integration a new key (shown once); the old one stops at once",
    )
    async def rotate_key(self, conn: Conn, principal: Me, integration_id: Id) -> Integration:
        return await service.rotate_key(conn, integration_id, principal)

    @get(
        "/syncs",
        summary="Outbound sync steps and their state",
        description="`status` is `pending`, `retrying` (with `next_attempt_at`), `succeeded`, "
        "`failed` (with `last_error`, naming the failure, never the vendor's answer) or "
        "`skipped`. A team key sees its own team's integrations' syncs.",
    )
    async def list_syncs(
        self,
        conn: Conn,
        principal: Me,
        incident_id: Annotated[str | None, QueryParameter(max_length=100)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> list[SyncState]:
        return await service.syncs(
            conn, incident_id=incident_id, status=status, limit=limit, team=principal.team
        )


class WebhookReceived(msgspec.Struct):
    status: str


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


class PagerDutyWebhookController(InboundController):
    path = "/api/v1/integrations/pagerduty"
    tags = ["integrations"]

    @post(
        "/webhook",
        status_code=200,
        summary="PagerDuty v3 webhook (incident.acknowledged, incident.resolved)",
        description="Signed with `X-PagerDuty-Signature`. Answers `applied`, `echo` (the "
        "status we pushed, coming back), `ignored`, `unknown` (no linked incident) or "
        "`duplicate` (this event id was received already); 401 when `occurred_at` is "
        "outside the replay window (INTEGRATIONS_WEBHOOK_REPLAY_WINDOW_S); 404 "
        "when no signing secret is configured (INTEGRATIONS_PAGERDUTY_WEBHOOK_SECRET).",
        responses={
            404: ResponseSpec(
                data_container=ErrorBody, description="PagerDuty webhooks are not enabled here"
            )
        },
    )
    async def pagerduty_webhook(
        self, request: Request[object, object, State], conn: Conn
    ) -> WebhookReceived:
        secret = request.app.state.settings.integrations.pagerduty_webhook_secret
        if secret is None:
            # Not enabled here (no signing secret): nothing to deliver to.
            msg = "PagerDuty webhooks are not enabled on this server"
            raise NotFound(msg)
        body = await request.body()
        webhooks.verify(
            body, secret.get_secret_value(), request.headers.get(webhooks.SIGNATURE_HEADER)
        )
        window = request.app.state.settings.integrations.webhook_replay_window_s
        return WebhookReceived(
            await webhooks.receive(
                conn, body, window_s=window, scorer=request.app.state.get("scorer")
            )
        )


class IncidentLinksController(Controller):
    path = "/api/v1/incidents"
    tags = ["integrations"]

    @get(
        "/{incident_id:str}/integrations",
        summary="An incident's vendor records and the state of its syncs",
    )
    async def incident_integrations(
        self, conn: Conn, incident_id: Annotated[str, PathParameter(max_length=100)]
    ) -> IncidentIntegrations:
        await incidents.get_incident(conn, incident_id)
        return IncidentIntegrations(
            incident_id=incident_id,
            links=await incidents.integration_links(conn, incident_id),
            syncs=await service.syncs(conn, incident_id=incident_id, status=None, limit=1000),
        )


INTEGRATION_ROUTES = [IntegrationController, IncidentLinksController, PagerDutyWebhookController]
