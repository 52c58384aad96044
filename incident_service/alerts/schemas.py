"""Types of the inbound alert API: what senders get back, and an incident's alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class EnqueueAccepted(msgspec.Struct):
    status: str
    message: str
    dedup_key: str


class InvalidEventBody(msgspec.Struct):
    """PagerDuty's own 400 shape, so PagerDuty senders understand our refusals."""

    status: str
    message: str
    errors: list[str]


class WebhookAccepted(msgspec.Struct):
    status: str
    alerts: int
    incidents: list[str]


class Alert(msgspec.Struct, kw_only=True):
    id: int
    integration_id: str
    incident_id: str | None
    dedup_key: str
    action: str
    summary: str
    severity: str | None
    source: str | None
    payload: dict[str, Any]
    received_at: datetime


class ChangeAccepted(msgspec.Struct):
    status: str
    message: str
