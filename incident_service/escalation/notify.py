"""Notification channels: how a person, schedule or team is told about an escalation.

A channel has a `name` and `async send(notification, incident) -> None`, raising
`ActionFailed` when the message did not get through. `webhook` (Slack-compatible JSON,
HMAC-signed, `Idempotency-Key` = the notification's key so a repeat after a crash is
dropped by the receiver) is the one configured today. The worker composition
(`incident_service/worker_app.py`) builds the channels by name; a notification names its
channel.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from incident_service.config import Settings
from incident_service.executor import ActionFailed
from incident_service.http import HttpClient
from incident_service.outbound_http import post_json, slack_message


class Channel(Protocol):
    name: str

    async def send(self, notification: dict[str, Any], incident: dict[str, Any]) -> None: ...


log = logging.getLogger(__name__)


@dataclass
class WebhookChannel:
    client: HttpClient
    url: str | None
    secret: str | None
    timeout_s: float
    name: str = "webhook"

    async def send(self, notification: dict[str, Any], incident: dict[str, Any]) -> None:
        if not self.url:
            msg = "NOTIFY_WEBHOOK_URL is not configured"
            raise ActionFailed(msg, retryable=False)
        text = (
            f"Escalation level {notification['level']}: {incident['incident_id']} "
            f"{incident['title']} needs {notification['recipient']}"
        )
        payload = slack_message(
            text,
            {
                "severity": incident["severity"],
                "team": incident["assigned_team"],
                "level": notification["level"],
                "round": notification["round"],
                "target": f"{notification['target_type']}:{notification['target']}",
            },
        ) | {
            "incident_id": incident["incident_id"],
            "recipient": notification["recipient"],
            "level": notification["level"],
            "round": notification["round"],
        }
        await post_json(
            self.client,
            self.url,
            payload,
            idempotency_key=notification["idempotency_key"],
            secret=self.secret,
            timeout_s=self.timeout_s,
        )


def webhook_channel(settings: Settings, client: HttpClient) -> Channel:
    """The `webhook` channel: NOTIFY_WEBHOOK_URL, signed with NOTIFY_WEBHOOK_SECRET."""
    secret = settings.notify_webhook_secret
    return WebhookChannel(
        client,
        settings.notify_webhook_url,
        None if secret is None else secret.get_secret_value(),
        settings.action_http_timeout_s,
    )


# Backoff between the tries of one delivery (3 tries in all).
_BACKOFF_S = (0.5, 1.5)


async def deliver(
    channel: Channel, notification: dict[str, Any], incident: dict[str, Any]
) -> tuple[bool, int, str | None]:
    """(delivered, attempts, last error): retried with backoff while retrying may help."""
    error: str | None = None
    for attempt in range(1, len(_BACKOFF_S) + 2):
        try:
            await channel.send(notification, incident)
            return True, attempt, None
        except ActionFailed as exc:
            error = str(exc)
            if not exc.retryable or attempt > len(_BACKOFF_S):
                return False, attempt, error
            await asyncio.sleep(_BACKOFF_S[attempt - 1])
        except Exception as exc:  # a channel's bug is a failed page, recorded, not a crash
            log.exception("notification channel %s raised", channel.name)
            return False, attempt, f"channel {channel.name} error: {type(exc).__name__}"
    return False, len(_BACKOFF_S) + 1, error
