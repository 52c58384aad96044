"""Every operation with a JSON body, walked from the OpenAPI document: no input is dropped
silently (an unknown field is a 400 naming it) and bytes that are not UTF-8 are a 400.

A new body route joins these tests by itself; it needs one minimal valid body below.
"""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar

from incident_service.app import create_app

# Vendor formats (PagerDuty Events v2, Alertmanager, Grafana, PagerDuty webhooks) keep
# accepting the vendor's extra fields: senders add fields without asking us.
VENDOR_INTAKE = frozenset(
    {
        "POST /v2/enqueue",
        "POST /v2/change/enqueue",
        "POST /api/v1/integrations/alertmanager/{integration_key}",
        "POST /api/v1/integrations/grafana/{integration_key}",
        "POST /api/v1/integrations/pagerduty/webhook",
    }
)

_SCHEDULE = {
    "name": "primary",
    "timezone": "UTC",
    "layers": [
        {"name": "l1", "rotation": "weekly", "participants": ["ann"], "starts": "2025-01-06"}
    ],
}
_POLICY = {
    "team": "payments",
    "name": "p",
    "levels": [{"delay_minutes": 5, "targets": [{"type": "person", "id": "ann"}]}],
}
_SUBSCRIBER = {"name": "s", "kind": "nats", "subject": "incidents"}

# The smallest body each operation accepts: the unknown field must be the only error.
MINIMAL_BODIES: dict[str, dict[str, object]] = {
    "POST /api/v1/api-keys": {"name": "k", "scopes": ["incidents:read"]},
    "POST /api/v1/incidents": {"title": "t", "severity": "SEV4_LOW", "assigned_team": "a"},
    "PUT /api/v1/incidents/{incident_id}/status": {"status": "ACKNOWLEDGED"},
    "POST /api/v1/integrations": {"kind": "events-v2", "team": "a"},
    "POST /api/v1/incidents/{incident_id}/responses/{response_id}/cancel": {},
    "POST /api/v1/incidents/{incident_id}/responses/{response_id}/retry": {},
    "POST /api/v1/oncall-schedules": _SCHEDULE,
    "PUT /api/v1/oncall-schedules/{schedule_id}": _SCHEDULE,
    "POST /api/v1/oncall-schedules/{schedule_id}/overrides": {
        "person": "bob",
        "starts_at": "2025-01-01T00:00:00Z",
        "ends_at": "2025-01-02T00:00:00Z",
    },
    "POST /api/v1/escalation-policies": _POLICY,
    "PUT /api/v1/escalation-policies/{policy_id}": _POLICY,
    "POST /api/v1/incidents/{incident_id}/escalate": {"reason": "r"},
    "POST /api/v1/subscribers": _SUBSCRIBER,
    "PUT /api/v1/subscribers/{subscriber_id}": _SUBSCRIBER,
    "PUT /api/v1/integrations/{integration_id}": {"name": "n"},
    "PUT /api/v1/incidents/{incident_id}/postmortem/review": {
        "contributing_factors": [],
        "action_items": [],
    },
    "PATCH /api/v1/incidents/{incident_id}": {},
    "POST /api/v1/incidents/{incident_id}/notes": {"body": "b"},
    "PATCH /api/v1/incidents/{incident_id}/notes/{note_id}": {"body": "b"},
    "POST /api/v1/incidents/{incident_id}/links": {"type": "related", "incident_id": "x"},
    "POST /api/v1/incidents/{incident_id}/merge": {"source_incident_ids": ["x"]},
    "POST /api/v1/incidents/{incident_id}/follow-ups": {"title": "t"},
    "PATCH /api/v1/follow-ups/{follow_up_id}": {},
    "POST /api/v1/incidents/{incident_id}/updates": {"message": "m"},
    "PUT /api/v1/incidents/{incident_id}/postmortem/state": {"state": "in_review"},
    "PUT /api/v1/teams/{slug}/update-cadence": {"every_minutes": {}},
    "POST /api/v1/users": {"name": "n"},
    "PATCH /api/v1/users/{user_id}": {},
    "POST /api/v1/teams": {"slug": "s", "name": "n"},
    "PATCH /api/v1/teams/{slug}": {},
    "POST /api/v1/teams/{slug}/roles": {"slug": "s", "name": "n"},
    "PATCH /api/v1/teams/{slug}/roles/{role}": {},
    "PUT /api/v1/incidents/{incident_id}/roles/{role}": {"user_id": str(uuid.uuid4())},
    "PUT /api/v1/incidents/{incident_id}/checklist/{item_id}": {"done": True},
}


def _app() -> Litestar:
    from incident_service.config import Settings

    # The document only: the database is reached when the app starts, and it never does.
    return create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))


def body_operations() -> list[tuple[str, str, dict[str, str]]]:
    """(method, path template, a value per path parameter) of every operation with a
    JSON body the framework parses, from the OpenAPI document."""
    operations = []
    for path, item in (_app().openapi_schema.paths or {}).items():
        for method in ("post", "put", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            label = f"{method.upper()} {path}"
            if operation.request_body is None and label not in VENDOR_INTAKE:
                continue
            params = {}
            for p in operation.parameters or []:
                if getattr(p, "param_in", None) == "path":
                    fmt = getattr(p.schema, "format", None)
                    params[p.name] = str(uuid.uuid4()) if fmt else "INC-20000101-001"
                    if str(getattr(p.schema, "type", "")) in ("integer", "OpenAPIType.INTEGER"):
                        params[p.name] = "1"
            operations.append((method.upper(), path, params))
    return operations


OPERATIONS = body_operations()
CORE = [op for op in OPERATIONS if f"{op[0]} {op[1]}" not in VENDOR_INTAKE]


def _label(op: tuple[str, str, dict[str, str]]) -> str:
    return f"{op[0]} {op[1]}"


def test_every_body_operation_has_a_minimal_body() -> None:
    missing = {_label(op) for op in CORE} - set(MINIMAL_BODIES)
    assert not missing, f"add a minimal body for each new body route: {missing}"
    assert {_label(op) for op in OPERATIONS} >= VENDOR_INTAKE
    assert len(CORE) >= 14


@pytest.mark.parametrize("op", CORE, ids=_label)
async def test_unknown_field_is_400_naming_it(client, op) -> None:
    method, path, params = op
    body = MINIMAL_BODIES[_label(op)] | {"surplus_field": "x"}
    response = await client.request(method, path.format(**params), json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["status_code"] == 400
    keys = [e["key"] for e in error["extra"]]
    # The minimal body is valid: the unknown field is the only thing wrong with it.
    assert keys == ["surplus_field"], error


@pytest.mark.parametrize("op", OPERATIONS, ids=_label)
@pytest.mark.parametrize(
    "raw",
    [b'{"title": "\xff"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc3"}'],
    ids=["invalid-byte", "encoded-surrogate", "truncated"],
)
async def test_invalid_utf8_is_a_json_4xx(client, op, raw: bytes) -> None:
    method, path, params = op
    response = await client.request(
        method, path.format(**params), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 or (
        # A vendor route may refuse the unknown integration key before it reads the body.
        _label(op) in VENDOR_INTAKE and response.status_code in (401, 404)
    ), response.text
    assert response.headers["content-type"].startswith("application/json")
    if _label(op) not in VENDOR_INTAKE:
        assert response.json()["status_code"] == 400
        assert response.json()["extra"][0]["key"] == "body"
