"""The built-in action executors: calls to the automation endpoint, the ticket endpoint and
a Slack-compatible webhook, each a signed JSON POST (`incident_service/outbound_http.py`)
with `Idempotency-Key` = the `response_id`. The worker composition
(`incident_service/worker_app.py`) builds them from the settings into its catalog. One
whose URL is not set ends skipped with the reason (`ActionSkipped`), not failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incident_service.config import Settings
from incident_service.executor import ActionContext, ActionExecutor, ActionSkipped
from incident_service.http import HttpClient
from incident_service.outbound_http import post_json, slack_message

AUTOMATIONS = ("scale_up_service", "restart_service", "rollback_deploy", "run_runbook")


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


async def _deliver(
    client: HttpClient, url: str, payload: dict[str, Any], secret: str | None, ctx: ActionContext
) -> dict[str, Any]:
    """The one shape of every built-in action's call: signed, keyed by the response id (a
    re-run step cannot act twice), bounded by the action's timeout."""
    response = await post_json(
        client,
        url,
        payload,
        idempotency_key=ctx.response_id,
        secret=secret,
        timeout_s=ctx.timeout_s,
    )
    return {"status_code": response.status}


@dataclass
class HttpAutomation:
    """`scale_up_service`, `restart_service`, `rollback_deploy`, `run_runbook`: a call to
    the automation endpoint (a runbook runner, deploy tool...) at `<automation_url>/<type>`."""

    action_type: str
    base_url: str | None
    secret: str | None
    client: HttpClient

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        if not self.base_url:
            msg = "no AUTOMATION_URL set: nothing to call"
            raise ActionSkipped(msg)
        url = f"{self.base_url.rstrip('/')}/{self.action_type}"
        payload = {
            "response_id": ctx.response_id,
            "incident_id": ctx.incident_id,
            "action_type": self.action_type,
            "params": ctx.params,
            "services": ctx.params.get("services") or ctx.incident.get("affected_services", []),
            "incident": ctx.incident,
            "attempt": ctx.attempt,
        }
        return await _deliver(self.client, url, payload, self.secret, ctx)


@dataclass
class CreateTicket:
    """`create_ticket`: POST to TICKET_URL."""

    client: HttpClient
    url: str | None
    secret: str | None
    action_type: str = "create_ticket"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        if not self.url:
            msg = "no TICKET_URL set: nothing to call"
            raise ActionSkipped(msg)
        inc = ctx.incident
        payload = {
            "response_id": ctx.response_id,
            "incident_id": ctx.incident_id,
            "summary": f"[{inc.get('severity')}] {ctx.incident_id}: {inc.get('title')}",
            "project": ctx.params.get("project"),
            "team": inc.get("assigned_team"),
            "services": inc.get("affected_services", []),
        }
        return await _deliver(self.client, self.url, payload, self.secret, ctx)


@dataclass
class NotifyWebhook:
    """`notify_webhook`: a Slack-compatible message to `params.url` or NOTIFY_WEBHOOK_URL."""

    client: HttpClient
    url: str | None
    secret: str | None
    action_type: str = "notify_webhook"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        url = ctx.params.get("url") or self.url
        if not url:
            msg = "no NOTIFY_WEBHOOK_URL set (nor the action's params.url): nothing to call"
            raise ActionSkipped(msg)
        inc = ctx.incident
        text = f"{ctx.params.get('text', 'Incident')}: {ctx.incident_id} {inc.get('title')}"
        payload = slack_message(
            text,
            {
                "severity": inc.get("severity"),
                "team": inc.get("assigned_team"),
                "services": ", ".join(inc.get("affected_services", [])),
            },
        )
        return await _deliver(self.client, str(url), payload, self.secret, ctx)


def automation(action_type: str, settings: Settings, client: HttpClient) -> ActionExecutor:
    return HttpAutomation(
        action_type, settings.automation_url, _secret(settings.automation_secret), client
    )


def create_ticket(settings: Settings, client: HttpClient) -> ActionExecutor:
    return CreateTicket(client, settings.ticket_url, _secret(settings.automation_secret))


def notify_webhook(settings: Settings, client: HttpClient) -> ActionExecutor:
    return NotifyWebhook(
        client, settings.notify_webhook_url, _secret(settings.notify_webhook_secret)
    )
