"""PagerDuty through the official `pagerduty` client (REST API v2).

Our incident_id is the PagerDuty `incident_key`: the lookup before a create finds the
record a crashed or timed-out attempt made, and PagerDuty itself refuses a second open
incident with that key on the service.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pagerduty

from incident_service.integrations.base import (
    IncidentFacts,
    RemoteRecord,
    VendorError,
    classify,
    transport_error,
)
from incident_service.integrations.settings import IntegrationSettings
from incident_service.vocabulary import IncidentSeverity, IncidentStatus

SYSTEM = "pagerduty"

# Our status -> the PagerDuty status it implies (PagerDuty has no way back to triggered,
# and a resolved PagerDuty incident cannot be reopened: those moves are notes only).
STATUS_MAP: dict[str, str] = {
    IncidentStatus.OPEN: "triggered",
    IncidentStatus.ACKNOWLEDGED: "acknowledged",
    IncidentStatus.INVESTIGATING: "acknowledged",
    IncidentStatus.IDENTIFIED: "acknowledged",
    IncidentStatus.MONITORING: "acknowledged",
    IncidentStatus.RESOLVED: "resolved",
    IncidentStatus.CLOSED: "resolved",
    # A merged source is done here; PagerDuty's own merge resolves its sources too.
    IncidentStatus.MERGED: "resolved",
}
_RANK = {"triggered": 0, "acknowledged": 1, "resolved": 2}
# PagerDuty has two urgencies; SEV1/SEV2 page now.


def advance_to(remote_status: str | None, our_status: str) -> str | None:
    """The PagerDuty status to push for ours, or None when PagerDuty is there already."""
    wanted = STATUS_MAP[our_status]
    return wanted if _RANK[wanted] > _RANK.get(remote_status or "triggered", 0) else None


URGENCY: dict[str, str] = {
    IncidentSeverity.SEV1_CRITICAL: "high",
    IncidentSeverity.SEV2_HIGH: "high",
    IncidentSeverity.SEV3_MEDIUM: "low",
    IncidentSeverity.SEV4_LOW: "low",
}


def verify_of(settings: IntegrationSettings) -> ssl.SSLContext | bool:
    if settings.ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=str(settings.ca_bundle))


class PagerDutyConnector:
    system = SYSTEM

    def __init__(self, settings: IntegrationSettings, config: dict[str, Any]) -> None:
        if settings.pagerduty_token is None:
            msg = "INTEGRATIONS_PAGERDUTY_TOKEN is not set"
            raise VendorError(msg, retryable=False)
        self.service_id = str(config["service_id"])
        self.client = pagerduty.RestApiV2Client(
            settings.pagerduty_token.get_secret_value(),
            default_from=str(config.get("from_email") or settings.pagerduty_from),
            base_url=settings.pagerduty_api_url,
            verify=verify_of(settings),
        )
        # Our workflow retries with durable backoff and honours Retry-After; the client's
        # own loops (forever on 429) would hide failures inside one step.
        self.client.timeout = int(max(1.0, settings.http_timeout_s))
        self.client.max_network_attempts = 0
        # A limit already reached (-2 <= 0 attempts made): hand a 429 back at once.
        self.client.retry[429] = -2

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, **kw)
        except pagerduty.HttpError as exc:  # 401 is raised by the client itself
            raise self._error(exc.response) from exc
        except pagerduty.Error as exc:
            if isinstance(exc.__cause__, httpx2.TransportError):
                raise transport_error(SYSTEM, exc.__cause__) from exc
            raise VendorError(
                f"pagerduty client error ({type(exc).__name__})",
                retryable=False,
                detail=str(exc)[:1000],
            ) from exc
        if not response.is_success:
            raise self._error(response)
        body: dict[str, Any] = response.json()
        return body

    def _error(self, response: httpx2.Response | None) -> VendorError:
        if response is None:
            return VendorError("pagerduty answered without a response", retryable=True)
        try:
            error = response.json().get("error", {})
            detail = f"{error.get('message', '')} {'; '.join(error.get('errors') or [])}".strip()
        except ValueError:
            detail = response.text[:200]
        return classify(SYSTEM, response.status_code, detail, response.headers.get("retry-after"))

    @staticmethod
    def _record(incident: dict[str, Any]) -> RemoteRecord:
        return RemoteRecord(
            remote_id=incident["id"],
            remote_key=str(incident.get("incident_number") or "") or None,
            url=incident.get("html_url"),
            status=incident.get("status"),
        )

    def find(self, incident: IncidentFacts) -> RemoteRecord | None:
        found = self._call(
            "GET",
            "/incidents",
            params={"incident_key": incident.incident_id, "service_ids[]": [self.service_id]},
        )
        for remote in found.get("incidents", []):
            if remote.get("incident_key") == incident.incident_id:
                return self._record(remote)
        return None

    def create(self, incident: IncidentFacts) -> RemoteRecord:
        body = {
            "incident": {
                "type": "incident",
                "title": f"[{incident.incident_id}] {incident.title}"[:1024],
                "service": {"id": self.service_id, "type": "service_reference"},
                "incident_key": incident.incident_id,
                "urgency": URGENCY.get(incident.severity, "high"),
                "body": {"type": "incident_body", "details": incident.description[:10_000]},
            }
        }
        try:
            created = self._call("POST", "/incidents", json=body)
        except VendorError as exc:
            # An open incident with our key exists already (made by an attempt whose
            # answer was lost): that is the record we want.
            if exc.status == 400 and "dedup key" in exc.detail:
                existing = self.find(incident)
                if existing is not None:
                    return existing
            raise
        return self._record(created["incident"])

    def mirror_status(
        self, record: RemoteRecord, incident: IncidentFacts, note: str | None
    ) -> RemoteRecord:
        # Decide on PagerDuty's own current status: the link's may be the intent of an
        # attempt whose push never happened (it is written before pushing; webhooks.py).
        current = self.refresh(record)
        wanted = advance_to(current.status, incident.status)
        if wanted is None:
            return current
        body = {"incident": {"type": "incident_reference", "status": wanted}}
        updated = self._call("PUT", f"/incidents/{record.remote_id}", json=body)
        return self._record(updated["incident"])

    def add_note(self, record: RemoteRecord, text: str) -> None:
        """Add a note unless an earlier attempt (whose answer was lost) already did."""
        existing = self._call("GET", f"/incidents/{record.remote_id}/notes")
        if any(n.get("content") == text[:25_000] for n in existing.get("notes", [])):
            return
        self._call(
            "POST",
            f"/incidents/{record.remote_id}/notes",
            json={"note": {"content": text[:25_000]}},
        )

    def refresh(self, record: RemoteRecord) -> RemoteRecord:
        return self._record(self._call("GET", f"/incidents/{record.remote_id}")["incident"])
