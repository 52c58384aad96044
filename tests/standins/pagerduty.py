"""PagerDuty REST API v2 stand-in: incidents triggered -> acknowledged -> resolved, notes,
`incident_key` dedup per service, entity-wrapped bodies and PagerDuty's error shape."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime
from typing import Any

from testkit.standin import Answer, Call, StandIn

_ORDER = {"triggered": 0, "acknowledged": 1, "resolved": 2}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PagerDutyStandIn(StandIn):
    name = "pagerduty"
    routes = [
        ("GET", r"/incidents", "list_incidents"),
        ("POST", r"/incidents", "create_incident"),
        ("GET", r"/incidents/([A-Z0-9]+)", "get_incident"),
        ("PUT", r"/incidents/([A-Z0-9]+)", "update_incident"),
        ("POST", r"/incidents/([A-Z0-9]+)/notes", "create_note"),
        ("GET", r"/incidents/([A-Z0-9]+)/notes", "list_notes"),
    ]

    def __init__(self, token: str, services: set[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token
        self.services = services
        self.incidents: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self._numbers = itertools.count(1)

    def error_body(self, status: int, message: str) -> Any:
        codes = {400: 2001, 401: 2006, 404: 2100, 429: 2020}
        return {"error": {"message": message, "code": codes.get(status, 2000), "errors": []}}

    def _route(self, call: Call) -> Answer:
        if call.headers.get("authorization") != f"Token token={self.token}":
            return 401, {"error": {"message": "Unauthorized", "code": 2006}}, {}
        return super()._route(call)

    def _invalid(self, *errors: str) -> Answer:
        body = {
            "error": {"message": "Invalid Input Provided", "code": 2001, "errors": list(errors)}
        }
        return 400, body, {}

    def _render(self, call: Call, incident: dict[str, Any]) -> dict[str, Any]:
        base = f"https://{call.host}"
        out = dict(incident)
        out["self"] = f"{base}/incidents/{incident['id']}"
        out["html_url"] = f"https://example.pagerduty.com/incidents/{incident['id']}"
        service = dict(incident["service"])
        service["self"] = f"{base}/services/{service['id']}"
        service["html_url"] = f"https://example.pagerduty.com/services/{service['id']}"
        out["service"] = service
        return out

    def create_incident(self, call: Call) -> Answer:
        if "@" not in call.headers.get("from", ""):
            return self._invalid("The From header is required and must be a user's email")
        body = (call.body or {}).get("incident")
        if not isinstance(body, dict) or body.get("type") != "incident":
            return self._invalid("incident must be an object of type incident")
        if not body.get("title"):
            return self._invalid("Title cannot be empty")
        service_id = (body.get("service") or {}).get("id")
        if service_id not in self.services:
            return self._invalid("Service not found")
        key = body.get("incident_key")
        if key and any(
            i["incident_key"] == key
            and i["service"]["id"] == service_id
            and i["status"] != "resolved"
            for i in self.incidents.values()
        ):
            return self._invalid(
                "Open incident with matching dedup key already exists on this service"
            )
        incident_id = "Q" + secrets.token_hex(6).upper()
        incident = {
            "id": incident_id,
            "type": "incident",
            "summary": body["title"],
            "incident_number": next(self._numbers),
            "title": body["title"],
            "description": body["title"],
            "created_at": _now(),
            "updated_at": _now(),
            "last_status_change_at": _now(),
            "status": "triggered",
            "incident_key": key or secrets.token_hex(16),
            "urgency": body.get("urgency", "high"),
            "service": {"id": service_id, "type": "service_reference", "summary": "Service"},
            "assignments": [],
            "acknowledgements": [],
            "body_details": (body.get("body") or {}).get("details"),
        }
        self.incidents[incident_id] = incident
        self.notes[incident_id] = []
        return 201, {"incident": self._render(call, incident)}, {}

    def list_incidents(self, call: Call) -> Answer:
        key = call.q("incident_key")
        found = [i for i in self.incidents.values() if key is None or i["incident_key"] == key]
        body = {
            "incidents": [self._render(call, i) for i in found],
            "limit": 25,
            "offset": 0,
            "more": False,
            "total": None,
        }
        return 200, body, {}

    def get_incident(self, call: Call, incident_id: str) -> Answer:
        incident = self.incidents.get(incident_id)
        if incident is None:
            return 404, self.error_body(404, "Not Found"), {}
        return 200, {"incident": self._render(call, incident)}, {}

    def update_incident(self, call: Call, incident_id: str) -> Answer:
        incident = self.incidents.get(incident_id)
        if incident is None:
            return 404, self.error_body(404, "Not Found"), {}
        if "@" not in call.headers.get("from", ""):
            return self._invalid("The From header is required and must be a user's email")
        status = ((call.body or {}).get("incident") or {}).get("status")
        if status not in ("acknowledged", "resolved"):
            return self._invalid("status must be acknowledged or resolved")
        if _ORDER[status] < _ORDER[incident["status"]]:
            return self._invalid(f"Incident is already {incident['status']}")
        if status != incident["status"]:
            incident["status"] = status
            incident["last_status_change_at"] = _now()
        return 200, {"incident": self._render(call, incident)}, {}

    def create_note(self, call: Call, incident_id: str) -> Answer:
        if incident_id not in self.incidents:
            return 404, self.error_body(404, "Not Found"), {}
        content = ((call.body or {}).get("note") or {}).get("content")
        if not content:
            return self._invalid("Note content cannot be empty")
        note = {
            "id": "N" + secrets.token_hex(6).upper(),
            "content": content,
            "created_at": _now(),
            "user": {"id": "PUSER01", "type": "user_reference", "summary": "bot"},
        }
        self.notes[incident_id].append(note)
        return 200, {"note": note}, {}

    def list_notes(self, call: Call, incident_id: str) -> Answer:
        return 200, {"notes": self.notes.get(incident_id, [])}, {}
