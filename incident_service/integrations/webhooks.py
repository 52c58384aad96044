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
import json
from typing import Any

from incident_service.alerts.errors import BadSignature
from incident_service.db import AsyncConn
from incident_service.errors import ValidationFailed
from incident_service.incidents import service as incidents
from incident_service.incidents.lifecycle import ALLOWED, IncidentStatus
from incident_service.incidents.schemas import StatusUpdateRequest
from incident_service.integrations import repository
from incident_service.integrations.sync import ECHO_ACTORS
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
    if not any(hmac.compare_digest(expected, o) for o in offered):
        msg = "missing or wrong X-PagerDuty-Signature"
        raise BadSignature(msg)


def _event(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
        event = parsed["event"]
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            raise TypeError("event.data")
    except (ValueError, KeyError, TypeError) as exc:
        msg = "not a PagerDuty v3 webhook"
        raise ValidationFailed(
            msg,
            [{"key": "event", "message": "an object with event_type and data", "source": "body"}],
        ) from exc
    return event


async def receive(conn: AsyncConn, body: bytes, *, scorer: Scorer | None = None) -> str:
    """Apply one webhook; what happened: applied, echo, ignored or unknown. A status it
    moves is re-scored by `scorer`, as any status change is."""
    event = _event(body)
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
