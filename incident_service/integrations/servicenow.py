"""ServiceNow through `pysnc` (ServiceNow's own client), on the `incident` table.

Our incident_id is the record's `correlation_id`: the lookup before a create finds what
an earlier attempt made. Severity maps to impact and urgency; our status to `state`;
resolving sets `close_code` (config `close_code`, default "Solved (Permanently)") and
`close_notes`, which ServiceNow requires.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from pysnc import ServiceNowClient
from requests.adapters import HTTPAdapter

from incident_service.integrations.base import (
    IncidentFacts,
    RemoteRecord,
    VendorError,
    classify,
    transport_error,
)
from incident_service.integrations.settings import IntegrationSettings
from incident_service.vocabulary import IncidentSeverity

SYSTEM = "servicenow"
TABLE = "incident"

# severity -> (impact, urgency); ServiceNow derives priority from the pair.
IMPACT_URGENCY: dict[str, tuple[str, str]] = {
    IncidentSeverity.SEV1_CRITICAL: ("1", "1"),
    IncidentSeverity.SEV2_HIGH: ("1", "2"),
    IncidentSeverity.SEV3_MEDIUM: ("2", "2"),
    IncidentSeverity.SEV4_LOW: ("3", "3"),
}
STATE = {
    "OPEN": "1",
    "ACKNOWLEDGED": "2",
    "INVESTIGATING": "2",
    "IDENTIFIED": "2",
    "MONITORING": "2",
    "RESOLVED": "6",
    "CLOSED": "7",
    "MERGED": "6",  # folded into another incident: resolved there, as PagerDuty does
}


class _Adapter(HTTPAdapter):
    """Gives every request a timeout (pysnc sets none) and remembers the last answer,
    whose status and Retry-After pysnc's exceptions drop."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(max_retries=0)
        self.timeout_s = timeout_s
        self.local = threading.local()

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        kw["timeout"] = kw.get("timeout") or self.timeout_s
        self.local.last = None
        response = super().send(request, **kw)
        self.local.last = response
        return response


class ServiceNowConnector:
    system = SYSTEM

    def __init__(self, settings: IntegrationSettings, config: dict[str, Any]) -> None:
        if not (
            settings.servicenow_url and settings.servicenow_user and settings.servicenow_password
        ):
            msg = "INTEGRATIONS_SERVICENOW_URL, _USER and _PASSWORD must all be set"
            raise VendorError(msg, retryable=False)
        self.url = settings.servicenow_url.rstrip("/")
        self.close_code = str(config.get("close_code", "Solved (Permanently)"))
        self.assignment_group: str | None = config.get("assignment_group")
        self.client = ServiceNowClient(
            self.url,
            (settings.servicenow_user, settings.servicenow_password.get_secret_value()),
            verify=str(settings.ca_bundle) if settings.ca_bundle else None,
            auto_retry=False,
        )
        session: requests.Session = self.client.session
        if settings.ca_bundle is not None:
            # REQUESTS_CA_BUNDLE would otherwise override the bundle configured here.
            session.trust_env = False
        self.adapter = _Adapter(settings.http_timeout_s)
        session.mount(self.url, self.adapter)

    def _guard(self, call: Any) -> Any:
        try:
            return call()
        except requests.RequestException as exc:
            raise transport_error(SYSTEM, exc) from exc
        except VendorError:
            raise
        except Exception as exc:  # pysnc raises plain exceptions carrying the body only
            last: requests.Response | None = getattr(self.adapter.local, "last", None)
            if last is None or last.status_code < 400:
                raise VendorError(
                    f"servicenow client error ({type(exc).__name__})",
                    retryable=False,
                    detail=str(exc)[:1000],
                ) from exc
            try:
                error = last.json().get("error", {})
                detail = f"{error.get('message', '')}: {error.get('detail') or ''}".strip(": ")
            except ValueError:
                detail = last.text[:200]
            raise classify(
                SYSTEM, last.status_code, detail, last.headers.get("Retry-After")
            ) from exc

    def _record(self, gr: Any) -> RemoteRecord:
        sys_id = str(gr.get_value("sys_id"))
        return RemoteRecord(
            remote_id=sys_id,
            remote_key=str(gr.get_value("number")),
            url=f"{self.url}/nav_to.do?uri=incident.do?sys_id={sys_id}",
            status=str(gr.get_value("state")),
        )

    def _load(self, sys_id: str) -> Any:
        gr = self.client.GlideRecord(TABLE)
        if not self._guard(lambda: gr.get(sys_id)):
            msg = f"servicenow incident {sys_id} no longer exists"
            raise VendorError(msg, status=404, retryable=False)
        return gr

    def find(self, incident: IncidentFacts) -> RemoteRecord | None:
        gr = self.client.GlideRecord(TABLE)
        gr.add_query("correlation_id", incident.incident_id)
        self._guard(gr.query)
        return self._record(gr) if gr.next() else None

    def create(self, incident: IncidentFacts) -> RemoteRecord:
        impact, urgency = IMPACT_URGENCY.get(incident.severity, ("2", "2"))
        gr = self.client.GlideRecord(TABLE)
        gr.initialize()
        gr.short_description = f"[{incident.incident_id}] {incident.title}"[:160]
        gr.description = incident.description[:4000]
        gr.impact = impact
        gr.urgency = urgency
        gr.state = STATE.get(incident.status, "1")
        gr.correlation_id = incident.incident_id
        gr.correlation_display = "incident-service"
        if self.assignment_group:
            gr.assignment_group = self.assignment_group
        self._guard(gr.insert)
        return self._record(gr)

    def mirror_status(
        self, record: RemoteRecord, incident: IncidentFacts, note: str | None
    ) -> RemoteRecord:
        wanted = STATE[incident.status]
        if record.status == wanted:
            return record
        gr = self._load(record.remote_id)
        if str(gr.get_value("state")) == wanted:
            return self._record(gr)
        gr.state = wanted
        if wanted in ("6", "7"):
            gr.close_code = self.close_code
            gr.close_notes = (note or f"Resolved in incident-service ({incident.incident_id})")[
                :4000
            ]
        self._guard(gr.update)
        return self._record(gr)

    def add_note(self, record: RemoteRecord, text: str) -> None:
        gr = self._load(record.remote_id)
        gr.work_notes = text[:4000]
        self._guard(gr.update)
