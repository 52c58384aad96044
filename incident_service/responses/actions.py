"""The action catalog: what each `action_type` does, behind one small protocol.

An executor is any object with `action_type` and `async execute(ctx) -> dict`; it raises
`ActionFailed` (retryable or not) when the action did not happen. The workflow code only
looks executors up by name, so a new one plugs in with `register_action(name, factory)`
(the factory gets the settings and the shared HTTP client) and needs no workflow change.

HTTP actions carry the `response_id` as `Idempotency-Key` and are signed with HMAC-SHA256
(`X-Incident-Signature: t=<unix seconds>,v1=<hex of HMAC(secret, "<t>." + body)>`), so a
receiver can drop the repeats that at-least-once steps produce after a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from incident_service.config import Settings
from incident_service.http import HttpClient, HttpResponse, HttpTimeout, HttpUnreachable


@dataclass(frozen=True, slots=True)
class ActionContext:
    response_id: str
    incident_id: str
    action_type: str
    params: dict[str, Any]
    incident: dict[str, Any]
    attempt: int
    timeout_s: float


class ActionFailed(Exception):
    """The action did not happen. `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ActionExecutor(Protocol):
    action_type: str

    async def execute(self, ctx: ActionContext) -> dict[str, Any]: ...


ExecutorFactory = Callable[[Settings, HttpClient], ActionExecutor]
_FACTORIES: dict[str, ExecutorFactory] = {}


def register_action(action_type: str, factory: ExecutorFactory) -> None:
    """Add (or replace) an executor; the policy file may then name `action_type`."""
    _FACTORIES[action_type] = factory


def action_types() -> frozenset[str]:
    return frozenset(_FACTORIES)


def build_executors(settings: Settings, client: HttpClient) -> dict[str, ActionExecutor]:
    return {name: factory(settings, client) for name, factory in _FACTORIES.items()}


def sign(secret: str | None, body: bytes, now: float | None = None) -> dict[str, str]:
    """The signature header for `body`; nothing when no secret is configured."""
    if not secret:
        return {}
    stamp = str(int(now if now is not None else time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Incident-Signature": f"t={stamp},v1={digest}"}


async def post_json(
    client: HttpClient,
    url: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str,
    secret: str | None,
    timeout_s: float,
) -> HttpResponse:
    """POST signed JSON; 2xx returns, anything else raises ActionFailed."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        **sign(secret, body),
    }
    try:
        response = await client.post(url, body, headers, timeout_s)
    except HttpTimeout as exc:
        msg = f"no answer from {_host(url)} within {timeout_s:.1f}s"
        raise ActionFailed(msg, retryable=True) from exc
    except HttpUnreachable as exc:
        msg = f"cannot reach {_host(url)}: {exc}"
        raise ActionFailed(msg, retryable=True) from exc
    if response.is_success:
        return response
    retryable = response.status in (408, 409, 425, 429) or response.status >= 500
    # The status only: the target's answer is not ours to show to every reader of the
    # timeline (it can carry internal details, or probe results for a hostile URL).
    msg = f"{_host(url)} answered HTTP {response.status}"
    raise ActionFailed(msg, retryable=retryable)


def _host(url: str) -> str:
    """Only scheme and host in messages: URLs may carry tokens in their path or query."""
    parsed = urlsplit(url)
    return f"{parsed.scheme}://{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


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
            msg = "AUTOMATION_URL is not configured"
            raise ActionFailed(msg, retryable=False)
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
        response = await post_json(
            self.client,
            url,
            payload,
            idempotency_key=ctx.response_id,
            secret=self.secret,
            timeout_s=ctx.timeout_s,
        )
        return {"status_code": response.status}


@dataclass
class CreateTicket:
    """`create_ticket`: POST to TICKET_URL (issue 4's Jira/ServiceNow executors replace it)."""

    client: HttpClient
    url: str | None
    secret: str | None
    action_type: str = "create_ticket"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        if not self.url:
            msg = "TICKET_URL is not configured"
            raise ActionFailed(msg, retryable=False)
        inc = ctx.incident
        payload = {
            "response_id": ctx.response_id,
            "incident_id": ctx.incident_id,
            "summary": f"[{inc.get('severity')}] {ctx.incident_id}: {inc.get('title')}",
            "project": ctx.params.get("project"),
            "team": inc.get("assigned_team"),
            "services": inc.get("affected_services", []),
        }
        response = await post_json(
            self.client,
            self.url,
            payload,
            idempotency_key=ctx.response_id,
            secret=self.secret,
            timeout_s=ctx.timeout_s,
        )
        return {"status_code": response.status}


def slack_message(text: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible webhook JSON: `text` plus one section block with the fields."""
    lines = "\n".join(f"*{k}*: {v}" for k, v in fields.items() if v not in (None, "", []))
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{text}\n{lines}"}},
        ],
    }


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
            msg = "no webhook URL: set NOTIFY_WEBHOOK_URL or the action's params.url"
            raise ActionFailed(msg, retryable=False)
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
        response = await post_json(
            self.client,
            str(url),
            payload,
            idempotency_key=ctx.response_id,
            secret=self.secret,
            timeout_s=ctx.timeout_s,
        )
        return {"status_code": response.status}


def _automation(name: str) -> ExecutorFactory:
    def factory(settings: Settings, client: HttpClient) -> ActionExecutor:
        secret = _secret(settings.automation_secret)
        return HttpAutomation(name, settings.automation_url, secret, client)

    return factory


for _name in ("scale_up_service", "restart_service", "rollback_deploy", "run_runbook"):
    register_action(_name, _automation(_name))
register_action(
    "create_ticket",
    lambda s, c: CreateTicket(c, s.ticket_url, _secret(s.automation_secret)),
)
register_action(
    "notify_webhook",
    lambda s, c: NotifyWebhook(c, s.notify_webhook_url, _secret(s.notify_webhook_secret)),
)
# page_oncall is registered by incident_service.escalation.paging (it goes through the
# team's escalation policy); `known_action_types()` imports it so the catalog is whole.


def known_action_types() -> frozenset[str]:
    import incident_service.escalation.paging
    import incident_service.predictions.actions  # noqa: F401  (registers suggest_severity)

    return action_types()
