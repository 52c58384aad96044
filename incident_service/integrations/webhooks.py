"""PagerDuty v3 webhooks in: an incident acknowledged or resolved in PagerDuty moves ours.

The body is authenticated by `X-PagerDuty-Signature` (`v1=<hex HMAC-SHA256 of the body>`,
several comma-separated while a secret rotates). A change we made echoes back as a webhook
carrying the status we pushed: the link remembers that status (it is written before the
push), so the echo is recognised and changes nothing; and a change that came from
PagerDuty is recorded with actor `pagerduty:webhook`, which the outbound sync does not
mirror back to PagerDuty.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from incident_service.db import AsyncConn
from incident_service.errors import BadSignature, ValidationFailed
from incident_service.incidents import service as incidents
from incident_service.incidents.lifecycle import ALLOWED, IncidentStatus
from incident_service.incidents.schemas import StatusUpdateRequest
from incident_service.integrations import repository
from incident_service.integrations.service import first_delivery
from incident_service.integrations.sync import ECHO_ACTORS
from incident_service.jsonbody import Unreadable, load_json
from incident_service.predictions.scorer import Scorer

SIGNATURE_HEADER = "X-PagerDuty-Signature"
ACTOR = ECHO_ACTORS["pagerduty"]
TARGETS = {
    "incident.acknowledged": IncidentStatus.ACKNOWLEDGED,
    "incident.resolved": IncidentStatus.RESOLVED,
}


def verify(body: bytes, secret: str, header: str | None) -> None:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    offered = [p.strip().removeprefix("v1=") for p in (header or "").split(",") if p.strip()]
    if not any(o.isascii() and hmac.compare_digest(expected, o) for o in offered):
        msg = "missing or wrong X-PagerDuty-Signature"
        raise BadSignature(msg)


def _invalid(key: str, message: str) -> ValidationFailed:
    msg = "not a PagerDuty v3 webhook"
    return ValidationFailed(msg, [{"key": key, "message": message, "source": "body"}])


def _event(body: bytes) -> dict[str, Any]:
    try:
        parsed = load_json(body)
    except Unreadable as exc:
        raise _invalid("body", f"the body {exc}") from exc
    event = parsed.get("event") if isinstance(parsed, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise _invalid("event", "an object with event_type and data")
    return event


def check_fresh(event: dict[str, Any], window_s: float, now: datetime | None = None) -> str:
    """The event's id, once its `occurred_at` is within `window_s` of now (either way):
    a signature covers the body only, so the event's own time is what ages it."""
    event_id = event.get("id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
        raise _invalid("event.id", "the event's id (a string) is required")
    stamp = event.get("occurred_at")
    try:
        if not isinstance(stamp, str):
            raise TypeError(stamp)
        occurred = datetime.fromisoformat(stamp)
        if occurred.tzinfo is None:
            raise TypeError(stamp)
    except (TypeError, ValueError) as exc:
        msg = "an ISO 8601 date and time with its offset"
        raise _invalid("event.occurred_at", msg) from exc
    if abs(((now or datetime.now(UTC)) - occurred).total_seconds()) > window_s:
        msg = f"the webhook's occurred_at is more than {window_s:g} s from now (stale or replayed)"
        raise BadSignature(msg)
    return event_id


async def receive(
    conn: AsyncConn, body: bytes, *, window_s: float, scorer: Scorer | None = None
) -> str:
    """Apply one webhook; what happened: applied, echo, ignored, unknown or duplicate
    (this event id was received before, within the replay window). A status it moves is
    re-scored by `scorer`, as any status change is."""
    event = _event(body)
    event_id = check_fresh(event, window_s)
    if not await first_delivery(conn, f"pagerduty-webhook:{event_id}", window_s):
        return "duplicate"
    target = TARGETS.get(str(event.get("event_type")))
    data: dict[str, Any] = event["data"]
    if target is None or data.get("type", "incident") != "incident":
        return "ignored"
    link = await repository.link_by_remote(conn, "pagerduty", str(data.get("id")))
    if link is None:
        return "unknown"
    remote_status = str(data.get("status") or "")
    if remote_status and remote_status == link["remote_status"]:
        return "echo"
    await repository.set_remote_status(
        conn, link["incident_id"], link["integration_id"], remote_status
    )
    row = await incidents.get_incident(conn, link["incident_id"])
    if target not in ALLOWED[row.status]:
        return "ignored"  # we are already past it (or it is the same status)
    agent = (event.get("agent") or {}).get("summary") or "someone"
    await incidents.change_status(
        conn,
        link["incident_id"],
        StatusUpdateRequest(status=target, note=f"{event['event_type']} in PagerDuty by {agent}"),
        actor=ACTOR,
        scorer=scorer,
    )
    return "applied"
