"""ServiceNow Table API stand-in for `incident`: states 1 New, 2 In Progress, 3 On Hold,
6 Resolved, 7 Closed, 8 Canceled; resolving needs close_code and close_notes (a data
policy, as a real instance enforces); `display_value=all`; `X-Total-Count` on queries."""

from __future__ import annotations

import base64
import itertools
import secrets
from datetime import UTC, datetime
from typing import Any

from testkit.standin import Answer, Call, StandIn

STATES = {
    "1": "New",
    "2": "In Progress",
    "3": "On Hold",
    "6": "Resolved",
    "7": "Closed",
    "8": "Canceled",
}
COLUMNS = (
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "state",
    "close_code",
    "close_notes",
    "work_notes",
    "comments",
    "correlation_id",
    "correlation_display",
    "assignment_group",
    "caller_id",
)
LEVELS = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class ServiceNowStandIn(StandIn):
    name = "servicenow"
    routes = [
        ("GET", r"/api/now/table/incident", "query"),
        ("POST", r"/api/now/table/incident", "insert"),
        ("GET", r"/api/now/table/incident/([0-9a-f]{32})", "get"),
        ("PATCH", r"/api/now/table/incident/([0-9a-f]{32})", "patch"),
        ("PUT", r"/api/now/table/incident/([0-9a-f]{32})", "patch"),
    ]

    def __init__(self, user: str, password: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.records: dict[str, dict[str, Any]] = {}
        self._numbers = itertools.count(10001)

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "detail": None}, "status": "failure"}

    def _route(self, call: Call) -> Answer:
        if call.headers.get("authorization") != self.auth:
            body = {
                "error": {
                    "message": "User Not Authenticated",
                    "detail": "Required to provide Auth information",
                },
                "status": "failure",
            }
            return 401, body, {}
        return super()._route(call)

    def _render(self, call: Call, record: dict[str, Any]) -> dict[str, Any]:
        if call.q("sysparm_display_value") != "all":
            return dict(record)
        out: dict[str, Any] = {}
        for key, value in record.items():
            shown = value
            if key == "state":
                shown = STATES.get(value, value)
            elif key in ("impact", "urgency", "priority"):
                shown = LEVELS.get(value, value)
            out[key] = {"value": value, "display_value": shown}
        return out

    def _policy(self, record: dict[str, Any]) -> Answer | None:
        if record.get("state") in ("6", "7") and not (
            record.get("close_code") and record.get("close_notes")
        ):
            body = {
                "error": {
                    "message": "Operation Failed",
                    "detail": "Data Policy Exception: \n\tThe following fields are mandatory: "
                    "Resolution code, Resolution notes\n",
                },
                "status": "failure",
            }
            return 403, body, {}
        if record.get("state") not in STATES:
            return 400, self.error_body(400, f"invalid state {record.get('state')!r}"), {}
        return None

    def query(self, call: Call) -> Answer:
        conditions = [c for c in (call.q("sysparm_query") or "").split("^") if c and "=" in c]
        conditions = [c for c in conditions if not c.startswith("ORDERBY")]
        found = [
            r
            for r in self.records.values()
            if all(str(r.get(k)) == v for k, v in (c.split("=", 1) for c in conditions))
        ]
        limit = int(call.q("sysparm_limit", "100") or 100)
        offset = int(call.q("sysparm_offset", "0") or 0)
        page = found[offset : offset + limit]
        return (
            200,
            {"result": [self._render(call, r) for r in page]},
            {"X-Total-Count": str(len(found))},
        )

    def insert(self, call: Call) -> Answer:
        fields = {k: str(v) for k, v in (call.body or {}).items() if v is not None}
        if not fields.get("short_description"):
            return 400, self.error_body(400, "short_description is mandatory"), {}
        # A real instance returns every column of the table, empty ones as "".
        record = (
            dict.fromkeys(COLUMNS, "")
            | {
                "sys_id": secrets.token_hex(16),
                "number": f"INC{next(self._numbers):07d}",
                "state": "1",
                "impact": "3",
                "urgency": "3",
                "sys_created_on": _now(),
                "sys_updated_on": _now(),
            }
            | fields
        )
        problem = self._policy(record)
        if problem is not None:
            return problem
        self.records[record["sys_id"]] = record
        return 201, {"result": self._render(call, record)}, {}

    def get(self, call: Call, sys_id: str) -> Answer:
        record = self.records.get(sys_id)
        if record is None:
            return 404, self.error_body(404, "No Record found"), {}
        return 200, {"result": self._render(call, record)}, {}

    def patch(self, call: Call, sys_id: str) -> Answer:
        record = self.records.get(sys_id)
        if record is None:
            return 404, self.error_body(404, "No Record found"), {}
        changed = record | {k: str(v) for k, v in (call.body or {}).items() if v is not None}
        problem = self._policy(changed)
        if problem is not None:
            return problem
        record.update(changed, sys_updated_on=_now())
        return 200, {"result": self._render(call, record)}, {}
