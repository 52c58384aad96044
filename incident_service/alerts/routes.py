"""Inbound alert routes. They authenticate by integration key (and signature when set)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter

from incident_service.alerts import events_v2, service, webhook
from incident_service.alerts.errors import InvalidEvent, ThrottledEvent
from incident_service.alerts.schemas import (
    Alert,
    ChangeAccepted,
    EnqueueAccepted,
    InvalidEventBody,
    WebhookAccepted,
)
from incident_service.config import IntegrationSettings
from incident_service.db import AsyncConn
from incident_service.errors import NotFound, RateLimited, Unavailable
from incident_service.integrations import service as integrations
from incident_service.integrations.schemas import IntegrationKind
from incident_service.routing import Conn, InboundController

Key = Annotated[str, PathParameter(min_length=1, max_length=64, description="integration key")]


class EventsV2Controller(InboundController):
    """PagerDuty's Events API v2: alerts, and change events."""

    tags = ["alerts"]

    @post(
        "/v2/enqueue",
        status_code=202,
        summary="PagerDuty Events API v2",
        description="Anything that can page PagerDuty can page us: the same request body, "
        "answered 202 with the `dedup_key`, or 400 `invalid event` in PagerDuty's shape. "
        "The `routing_key` is the key of an `events-v2` integration.",
        responses={
            400: ResponseSpec(
                data_container=InvalidEventBody,
                description='`{"status": "invalid event", "message": "Event object is '
                'invalid", "errors": [...]}`, naming every problem',
            )
        },
    )
    async def enqueue(self, request: Request[object, object, State], conn: Conn) -> EnqueueAccepted:
        routing_key, alert = events_v2.parse(await request.body())
        integration = await _events_v2(request, conn, routing_key, lock_dedup_key=alert.dedup_key)
        done = await service.ingest(
            conn, integration, alert, locked=True, **_automation(request.app.state)
        )
        return EnqueueAccepted("success", "Event processed", done.dedup_key)

    @post(
        "/v2/change/enqueue",
        status_code=202,
        summary="PagerDuty Events API v2 change events",
        description="Deploys and configuration changes, stored beside the alerts of the "
        "`events-v2` integration named by `routing_key`; they open no incident.",
        responses={400: ResponseSpec(data_container=InvalidEventBody, description="invalid event")},
    )
    async def change(self, request: Request[object, object, State], conn: Conn) -> ChangeAccepted:
        routing_key, event = events_v2.parse_change(await request.body())
        integration = await _events_v2(request, conn, routing_key)
        await service.record_change(conn, integration["id"], event)
        return ChangeAccepted("success", "Change event processed")


def _settings(request: Request[object, object, State]) -> IntegrationSettings:
    settings: IntegrationSettings = request.app.state.settings.integrations
    return settings


async def _retry_after(request: Request[object, object, State], conn: AsyncConn, key: str) -> int:
    """Whole seconds the sender must wait before the integration takes more (0: none)."""
    wait = await integrations.intake_wait(conn, key, _settings(request))
    return max(1, math.ceil(wait)) if wait > 0 else 0


async def _events_v2(
    request: Request[object, object, State],
    conn: AsyncConn,
    routing_key: str,
    *,
    lock_dedup_key: str | None = None,
) -> dict[str, Any]:
    """The `events-v2` integration an event names by `routing_key`, once its intake limit
    admits the event; else the answer in PagerDuty's shape (429, or 400 for an unknown key)."""
    retry_after = await _retry_after(request, conn, routing_key)
    if retry_after:
        raise ThrottledEvent(retry_after)
    try:
        return await integrations.by_key(
            conn, routing_key, frozenset({IntegrationKind.EVENTS_V2}), lock_dedup_key=lock_dedup_key
        )
    except NotFound as exc:
        raise InvalidEvent(["'routing_key' does not match any integration"]) from exc


def _automation(state: State) -> dict[str, Any]:
    """What an incident an alert opens gets, as one opened through the API does."""
    return {"policies": state.get("response_policies"), "scorer": state.get("scorer")}


def _secret(request: Request[object, object, State], config: dict[str, Any]) -> str | None:
    name = config.get("secret_name")
    if not name:
        return None
    secret = request.app.state.settings.integrations.webhook_secrets.get(name)
    if secret is None:
        # Our configuration is wrong, not the sender's request: a 5xx makes Alertmanager
        # keep the notification and retry once the secret is set.
        msg = f"the webhook secret {name!r} is not configured on this server"
        raise Unavailable(msg, retry_after=60)
    value: str = secret.get_secret_value()
    return value


async def _webhook(
    request: Request[object, object, State], conn: AsyncConn, key: str, kind: IntegrationKind
) -> WebhookAccepted:
    retry_after = await _retry_after(request, conn, key)
    if retry_after:
        msg = "too many notifications for this integration; retry later"
        raise RateLimited(msg, retry_after=retry_after)
    integration = await integrations.by_key(conn, key, frozenset({kind}))
    body = await request.body()
    config: dict[str, Any] = integration["config"]
    secret = _secret(request, config)
    version = "4" if kind is IntegrationKind.ALERTMANAGER else "1"
    window = _settings(request).webhook_replay_window_s
    replay_id: str | None = None
    if secret is not None:
        signed = webhook.verify_signature(
            body,
            secret,
            request.headers.get(
                str(config.get("signature_header", webhook.DEFAULT_SIGNATURE_HEADER))
            ),
            request.headers.get(str(config.get("timestamp_header", webhook.TIMESTAMP_HEADER))),
            window_s=window,
        )
        replay_id = f"{kind.value}:{integration['id']}:{signed}"
    note = webhook.decode(body, version)
    if replay_id is not None and not await integrations.first_delivery(conn, replay_id, window):
        # Accepted before: a sender's retry of a delivery whose answer it lost, or a
        # captured request replayed. Either way it changes nothing again.
        return WebhookAccepted("duplicate", 0, [])
    touched: list[str] = []
    alerts = webhook.alerts_of(note, config)
    for alert in alerts:
        done = await service.ingest(conn, integration, alert, **_automation(request.app.state))
        if done.incident_id is not None and done.incident_id not in touched:
            touched.append(done.incident_id)
    return WebhookAccepted("success", len(alerts), touched)


class WebhookController(InboundController):
    path = "/api/v1/integrations"
    tags = ["alerts"]

    @post(
        "/alertmanager/{integration_key:str}",
        status_code=200,
        summary="Prometheus Alertmanager webhook (version 4)",
        description="Alerts group into incidents by `groupKey`; the incident resolves when "
        "every alert of the group has resolved. Errors that would fail again are 4xx; "
        "only transient failures are 5xx (Alertmanager retries those only).",
    )
    async def alertmanager(
        self, request: Request[object, object, State], conn: Conn, integration_key: Key
    ) -> WebhookAccepted:
        return await _webhook(request, conn, integration_key, IntegrationKind.ALERTMANAGER)

    @post(
        "/grafana/{integration_key:str}",
        status_code=200,
        summary="Grafana alerting webhook (version 1), optionally HMAC-signed",
        description="With a secret (`config.secret_name`) the signature covers "
        "`timestamp:body` and the timestamp header is required: a timestamp outside the "
        "replay window is a 401, a second delivery of an accepted request answers "
        "`duplicate` and changes nothing. Over the integration's intake limit: 429 with "
        "Retry-After.",
    )
    async def grafana(
        self, request: Request[object, object, State], conn: Conn, integration_key: Key
    ) -> WebhookAccepted:
        return await _webhook(request, conn, integration_key, IntegrationKind.GRAFANA)


class IncidentAlertsController(Controller):
    path = "/api/v1/incidents"
    tags = ["alerts"]

    @get("/{incident_id:str}/alerts", summary="Every alert that fed an incident, oldest first")
    async def list_alerts(
        self,
        conn: Conn,
        incident_id: Annotated[str, PathParameter(max_length=100)],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> Response[list[Alert]]:
        return Response(await service.incident_alerts(conn, incident_id, limit))


ALERT_ROUTES = [
    EventsV2Controller,
    WebhookController,
    IncidentAlertsController,
]
