"""Prometheus Alertmanager (webhook version 4) and Grafana (version 1) notifications.

A notification carries the whole state of one alert group: every alert of the group with
its own `status` and `fingerprint`. The group (`groupKey`) selects the incident; each
alert becomes one stored alert record; the incident resolves once every alert seen in the
group has resolved. Malformed notifications are a 400 naming the field (Alertmanager
drops 4xx, which is right for input that would fail again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from incident_service.alerts.inbound import Action, InboundAlert
from incident_service.errors import BadSignature, ValidationFailed
from incident_service.jsonbody import Unreadable, load_json

DEFAULT_SIGNATURE_HEADER = "X-Grafana-Alert-Signature"
TIMESTAMP_HEADER = "X-Grafana-Alert-Timestamp"


class _Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(default="", max_length=255)


class Notification(BaseModel):
    """Alertmanager v4's fields; Grafana v1 adds its own, kept verbatim in the payload."""

    model_config = ConfigDict(extra="allow")

    version: str = Field(pattern="^[14]$")
    status: str = Field(pattern="^(firing|resolved)$")
    receiver: str = ""
    groupKey: str = Field(min_length=1)
    truncatedAlerts: int = 0
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[_Alert] = Field(min_length=1, max_length=10_000)
    title: str | None = None


def decode(body: bytes, version: str) -> Notification:
    try:
        raw = load_json(body)
    except Unreadable as exc:
        msg = f"the body {exc}"
        raise ValidationFailed(msg, [{"key": "body", "message": msg, "source": "body"}]) from exc
    try:
        note = Notification.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {
                "key": ".".join(str(p) for p in e["loc"]) or "body",
                "message": e["msg"],
                "source": "body",
            }
            for e in exc.errors()
        ]
        msg = "invalid webhook notification"
        raise ValidationFailed(msg, errors) from exc
    if note.version != version:
        msg = f"expected webhook version {version}, got {note.version}"
        raise ValidationFailed(msg, [{"key": "version", "message": msg, "source": "body"}])
    return note


def verify_signature(
    body: bytes,
    secret: str,
    signature: str | None,
    timestamp: str | None,
    *,
    window_s: float,
    now: float | None = None,
) -> str:
    """HMAC-SHA256 of `timestamp:body` (Grafana's scheme with a timestamp header), the
    timestamp (Unix seconds) within `window_s` of now in either direction. Returns the
    signature in its one canonical form (for the replay cache).

    A signature of the body alone is refused: it would never expire, so a captured
    request could be replayed for ever; the replay cache covers the window only.
    """
    if not signature:
        msg = "this integration requires a signed request"
        raise BadSignature(msg)
    if not timestamp:
        msg = "this integration requires a signature timestamp header (X-Grafana-Alert-Timestamp)"
        raise BadSignature(msg)
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        msg = "the signature timestamp must be Unix seconds"
        raise BadSignature(msg)
    message = f"{stamp}:".encode() + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    given = signature.removeprefix("sha256=").strip()
    if not given.isascii() or not hmac.compare_digest(expected, given):
        msg = "the request signature does not match"
        raise BadSignature(msg)
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > window_s:
        msg = f"the signature timestamp is more than {window_s:g} s from now (stale or replayed)"
        raise BadSignature(msg)
    return expected


_DEFAULT_SEVERITY_LABELS = {
    "critical": "critical",
    "page": "critical",
    "high": "error",
    "error": "error",
    "major": "error",
    "warning": "warning",
    "medium": "warning",
    "minor": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}


def alerts_of(note: Notification, config: dict[str, Any]) -> list[InboundAlert]:
    """One InboundAlert per alert of the group, all keyed by the group."""
    label = str(config.get("severity_label", "severity"))
    mapping = {**_DEFAULT_SEVERITY_LABELS, **config.get("severity_labels", {})}
    title = (
        note.commonAnnotations.get("summary")
        or note.title
        or note.commonLabels.get("alertname")
        or note.groupKey
    )
    out: list[InboundAlert] = []
    for alert in note.alerts:
        labels = note.commonLabels | alert.labels
        severity = mapping.get(labels.get(label, "").lower())
        summary = alert.annotations.get("summary") or title
        service = labels.get("service") or labels.get("job") or labels.get("alertname")
        description = alert.annotations.get("description") or summary
        out.append(
            InboundAlert(
                dedup_key=note.groupKey[:255],
                action=Action.TRIGGER if alert.status == "firing" else Action.RESOLVE,
                summary=summary[:1024],
                severity=severity,
                source=labels.get("instance"),
                payload=alert.model_dump(mode="json")
                | {"receiver": note.receiver, "externalURL": note.externalURL},
                member=alert.fingerprint or json.dumps(alert.labels, sort_keys=True)[:255],
                services=[service[:200]] if service else [],
                description=description[:20_000],
            )
        )
    return out
