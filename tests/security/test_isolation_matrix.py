"""The team-isolation matrix: every operation in the OpenAPI document, called with no key,
with a read-only key, and with a key of another team holding every scope.

Team B (the victim) owns one of every resource; team A (the intruder) holds a key with
every scope, restricted to team A. For each operation the intruder's answer must be a
401/403/404 (or, for a list, a 200 that names nothing of team B), and no answer may carry
anything of team B that the caller did not send itself: its team name, incident ids and
titles, or the ids of its configuration. A new route fails `test_every_operation_is_in
_the_matrix` until it is classified here, so a route cannot join the API without being
tried as the intruder.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from testkit.databases import make_api_key
from tests.conftest import new_incident

# How each operation is tried. "public": no key needed; "integration": authenticated by
# its routing key or signature (tried without one); "list": a collection the intruder may
# read, filtered to its team; "item": acts on one of team B's resources (named in the path
# or, for creates, in the body).
PUBLIC = "public"
INTEGRATION = "integration"
LIST = "list"
ITEM = "item"

MATRIX: dict[tuple[str, str], str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("POST", "/v2/enqueue"): INTEGRATION,
    ("POST", "/v2/change/enqueue"): INTEGRATION,
    ("POST", "/api/v1/integrations/alertmanager/{integration_key}"): INTEGRATION,
    ("POST", "/api/v1/integrations/grafana/{integration_key}"): INTEGRATION,
    ("POST", "/api/v1/integrations/pagerduty/webhook"): INTEGRATION,
    ("GET", "/api/v1/api-keys"): LIST,
    ("POST", "/api/v1/api-keys"): ITEM,
    ("DELETE", "/api/v1/api-keys/{key_id}"): ITEM,
    ("GET", "/api/v1/incidents"): LIST,
    ("POST", "/api/v1/incidents"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/timeline"): ITEM,
    ("PUT", "/api/v1/incidents/{incident_id}/status"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/merge"): ITEM,
    ("GET", "/api/v1/events"): LIST,
    ("GET", "/api/v1/incidents/{incident_id}/alerts"): ITEM,
    ("GET", "/api/v1/integrations"): LIST,
    ("POST", "/api/v1/integrations"): ITEM,
    ("GET", "/api/v1/integrations/{integration_id}"): ITEM,
    ("GET", "/api/v1/integrations/syncs"): LIST,
    ("PUT", "/api/v1/integrations/{integration_id}"): ITEM,
    ("POST", "/api/v1/integrations/{integration_id}/disable"): ITEM,
    ("POST", "/api/v1/integrations/{integration_id}/enable"): ITEM,
    ("POST", "/api/v1/integrations/{integration_id}/rotate-key"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/integrations"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/responses/{response_id}/cancel"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/responses"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/responses/{response_id}/retry"): ITEM,
    ("GET", "/api/v1/response-policies"): LIST,
    ("POST", "/api/v1/oncall-schedules/{schedule_id}/overrides"): ITEM,
    ("GET", "/api/v1/oncall-schedules"): LIST,
    ("POST", "/api/v1/oncall-schedules"): ITEM,
    ("GET", "/api/v1/oncall-schedules/{schedule_id}"): ITEM,
    ("PUT", "/api/v1/oncall-schedules/{schedule_id}"): ITEM,
    ("DELETE", "/api/v1/oncall-schedules/{schedule_id}"): ITEM,
    ("GET", "/api/v1/oncall-schedules/{schedule_id}/oncall"): ITEM,
    ("DELETE", "/api/v1/oncall-schedules/{schedule_id}/overrides/{override_id}"): ITEM,
    ("GET", "/api/v1/escalation-policies"): LIST,
    ("POST", "/api/v1/escalation-policies"): ITEM,
    ("GET", "/api/v1/escalation-policies/{policy_id}"): ITEM,
    ("PUT", "/api/v1/escalation-policies/{policy_id}"): ITEM,
    ("DELETE", "/api/v1/escalation-policies/{policy_id}"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/escalate"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/escalation"): ITEM,
    ("GET", "/api/v1/subscribers"): LIST,
    ("POST", "/api/v1/subscribers"): ITEM,
    ("GET", "/api/v1/subscribers/{subscriber_id}"): ITEM,
    ("PUT", "/api/v1/subscribers/{subscriber_id}"): ITEM,
    ("DELETE", "/api/v1/subscribers/{subscriber_id}"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/postmortem"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/postmortem/review"): ITEM,
    ("PUT", "/api/v1/incidents/{incident_id}/postmortem/review"): ITEM,
    ("GET", "/api/v1/reports/{name}"): ITEM,
    ("GET", "/api/v1/reports"): LIST,
    ("GET", "/api/v1/incidents/{incident_id}/similar"): ITEM,
    ("GET", "/api/v1/search"): LIST,
    ("GET", "/api/v1/users"): LIST,
    ("POST", "/api/v1/users"): ITEM,
    ("GET", "/api/v1/users/{user_id}"): ITEM,
    ("PATCH", "/api/v1/users/{user_id}"): ITEM,
    ("DELETE", "/api/v1/users/{user_id}"): ITEM,
    ("GET", "/api/v1/users/{user_id}/history"): ITEM,
    # The caller's own key: nothing of another team to name.
    ("GET", "/api/v1/me"): LIST,
    ("GET", "/api/v1/teams"): LIST,
    ("POST", "/api/v1/teams"): ITEM,
    ("GET", "/api/v1/teams/{slug}"): ITEM,
    ("PATCH", "/api/v1/teams/{slug}"): ITEM,
    ("PUT", "/api/v1/teams/{slug}/members/{user_id}"): ITEM,
    ("DELETE", "/api/v1/teams/{slug}/members/{user_id}"): ITEM,
    ("GET", "/api/v1/teams/{slug}/members/history"): ITEM,
    ("GET", "/api/v1/teams/{slug}/roles"): ITEM,
    ("POST", "/api/v1/teams/{slug}/roles"): ITEM,
    ("PATCH", "/api/v1/teams/{slug}/roles/{role}"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/roles"): ITEM,
    ("PUT", "/api/v1/incidents/{incident_id}/roles/{role}"): ITEM,
    ("DELETE", "/api/v1/incidents/{incident_id}/roles/{role}"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/checklist"): ITEM,
    ("PUT", "/api/v1/incidents/{incident_id}/checklist/{item_id}"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/updates"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/updates"): ITEM,
    ("GET", "/api/v1/teams/{slug}/update-cadence"): ITEM,
    ("PUT", "/api/v1/teams/{slug}/update-cadence"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/follow-ups"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/follow-ups"): ITEM,
    ("GET", "/api/v1/follow-ups"): LIST,
    ("GET", "/api/v1/follow-ups/{follow_up_id}"): ITEM,
    ("PATCH", "/api/v1/follow-ups/{follow_up_id}"): ITEM,
    ("PUT", "/api/v1/incidents/{incident_id}/postmortem/state"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/postmortem/versions"): ITEM,
    ("PATCH", "/api/v1/incidents/{incident_id}"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/notes"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/notes"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/notes/{note_id}"): ITEM,
    ("PATCH", "/api/v1/incidents/{incident_id}/notes/{note_id}"): ITEM,
    ("GET", "/api/v1/incidents/{incident_id}/links"): ITEM,
    ("POST", "/api/v1/incidents/{incident_id}/links"): ITEM,
    ("DELETE", "/api/v1/incidents/{incident_id}/links/{link_id}"): ITEM,
}

READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class Victim:
    """Team B and one of each of its resources."""

    team: str
    title: str
    ids: dict[str, str] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)

    def remember(self, name: str, value: object) -> str:
        text = str(value)
        self.ids[name] = text
        self.markers.add(text)
        return text


def _operations(app: Any) -> list[tuple[str, str]]:
    schema = app.openapi_schema.to_schema()
    return sorted(
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    )


def _schema_fields(app: Any, name: str) -> set[str]:
    schema = app.openapi_schema.to_schema()
    return set(schema["components"]["schemas"].get(name, {}).get("properties", {}))


@pytest.fixture(scope="module")
async def victim(client: AsyncTestClient, database_url: str) -> Victim:  # type: ignore[type-arg]
    """Team B's incident (resolved, with a post-mortem), policy, schedule with an override,
    subscriber, inbound integration and API key, created by an admin."""
    token = secrets.token_hex(4)
    v = Victim(team=f"victim-{token}", title=f"victim incident {token}")
    v.markers |= {v.team, v.title}
    app = client.app

    created = await client.post(
        "/api/v1/incidents", json=new_incident(v.team, title=v.title, severity="SEV1_CRITICAL")
    )
    assert created.status_code == 201, created.text
    v.remember("incident_id", created.json()["incident_id"])
    # A second, open incident of team B: what an intruder's merge would fold into the first.
    duplicate = await client.post("/api/v1/incidents", json=new_incident(v.team, title=v.title))
    assert duplicate.status_code == 201, duplicate.text
    v.remember("merge_source_id", duplicate.json()["incident_id"])

    schedule_body: dict[str, Any] = {
        "name": f"victim schedule {token}",
        "timezone": "UTC",
        "layers": [
            {
                "name": "primary",
                "rotation": "daily",
                "participants": [f"victim-person-{token}"],
                "starts": "2024-01-01",
            }
        ],
    }
    if "team" in _schema_fields(app, "ScheduleWrite"):
        schedule_body["team"] = v.team
    schedule = await client.post("/api/v1/oncall-schedules", json=schedule_body)
    assert schedule.status_code == 201, schedule.text
    v.remember("schedule_id", schedule.json()["id"])
    v.markers.add(f"victim-person-{token}")
    override = await client.post(
        f"/api/v1/oncall-schedules/{v.ids['schedule_id']}/overrides",
        json={
            "person": f"victim-override-{token}",
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-02T00:00:00Z",
        },
    )
    assert override.status_code == 201, override.text
    v.remember("override_id", override.json()["id"])
    v.markers.add(f"victim-override-{token}")

    policy = await client.post(
        "/api/v1/escalation-policies",
        json={
            "team": v.team,
            "name": f"victim policy {token}",
            "levels": [
                {
                    "delay_minutes": 5,
                    "targets": [{"type": "schedule", "id": v.ids["schedule_id"]}],
                }
            ],
        },
    )
    assert policy.status_code == 201, policy.text
    v.remember("policy_id", policy.json()["id"])

    subscriber_body: dict[str, Any] = {
        "name": f"victim subscriber {token}",
        "kind": "nats",
        "subject": f"{v.team}.events",
    }
    if "team" in _schema_fields(app, "SubscriberWrite"):
        subscriber_body["team"] = v.team
    subscriber = await client.post("/api/v1/subscribers", json=subscriber_body)
    assert subscriber.status_code == 201, subscriber.text
    v.remember("subscriber_id", subscriber.json()["id"])

    integration = await client.post(
        "/api/v1/integrations",
        json={"kind": "events-v2", "team": v.team, "name": f"victim integration {token}"},
    )
    assert integration.status_code == 201, integration.text
    v.remember("integration_id", integration.json()["integration_id"])
    v.markers.add(integration.json()["integration_key"])

    key = await client.post(
        "/api/v1/api-keys",
        json={"name": f"victim key {token}", "scopes": ["incidents:read"], "team": v.team},
    )
    assert key.status_code == 201, key.text
    v.remember("key_id", key.json()["api_key"]["id"])
    v.markers.add(key.json()["key"])

    # People: team B as a record, a member with a key of theirs, a role of the team's own,
    # held on the incident, and its task on the incident's checklist.
    made = await client.post("/api/v1/teams", json={"slug": v.team, "name": f"{v.team} name"})
    assert made.status_code == 201, made.text
    person = await client.post(
        "/api/v1/users",
        json={
            "name": f"victim member {token}",
            "email": f"victim-{token}@example.com",
            "teams": [v.team],
        },
    )
    assert person.status_code == 201, person.text
    v.remember("user_id", person.json()["id"])
    v.markers |= {f"victim member {token}", f"victim-{token}@example.com"}
    role = await client.post(
        f"/api/v1/teams/{v.team}/roles",
        json={
            "slug": f"victim-{token}",
            "name": f"victim role {token}",
            "tasks": [f"victim task {token}"],
        },
    )
    assert role.status_code == 201, role.text
    v.remember("role", role.json()["slug"])
    v.ids["slug"] = v.team
    v.markers |= {f"victim role {token}", f"victim task {token}"}
    held = await client.put(
        f"/api/v1/incidents/{v.ids['incident_id']}/roles/{v.ids['role']}",
        json={"user_id": v.ids["user_id"]},
    )
    assert held.status_code == 200, held.text
    items = await client.get(f"/api/v1/incidents/{v.ids['incident_id']}/checklist")
    v.ids["item_id"] = str(items.json()[0]["id"])

    responses = await client.get(f"/api/v1/incidents/{v.ids['incident_id']}/responses")
    items = responses.json() if responses.status_code == 200 else []
    if isinstance(items, dict):
        items = items.get("responses") or items.get("items") or []
    v.ids["response_id"] = str(items[0]["response_id"]) if items else str(uuid.uuid4())

    note = await client.post(
        f"/api/v1/incidents/{v.ids['incident_id']}/notes",
        json={"body": f"victim note body {token}", "visibility": "stakeholder"},
    )
    assert note.status_code == 201, note.text
    # A small number, in ids only: as a marker it would be found in any timestamp.
    v.ids["note_id"] = str(note.json()["id"])
    v.markers.add(f"victim note body {token}")
    sibling = await client.post(
        "/api/v1/incidents", json=new_incident(v.team, title=f"victim sibling {token}")
    )
    assert sibling.status_code == 201, sibling.text
    v.remember("sibling_incident_id", sibling.json()["incident_id"])
    v.markers.add(f"victim sibling {token}")
    link = await client.post(
        f"/api/v1/incidents/{v.ids['incident_id']}/links",
        json={"type": "child", "incident_id": v.ids["sibling_incident_id"]},
    )
    assert link.status_code == 201, link.text
    v.ids["link_id"] = str(link.json()["id"])

    resolved = await client.put(
        f"/api/v1/incidents/{v.ids['incident_id']}/status",
        json={"status": "RESOLVED", "note": f"victim note {token}"},
    )
    assert resolved.status_code == 200, resolved.text
    v.markers.add(f"victim note {token}")
    follow_up = await client.post(
        f"/api/v1/incidents/{v.ids['incident_id']}/follow-ups",
        json={"title": f"victim follow-up {token}", "due": "2000-01-01"},
    )
    assert follow_up.status_code == 201, follow_up.text
    v.remember("follow_up_id", follow_up.json()["follow_up_id"])
    v.markers.add(f"victim follow-up {token}")
    v.ids["name"] = "weekly"

    # A stakeholder update (a final one, after resolving) and the team's update cadence.
    update = await client.post(
        f"/api/v1/incidents/{v.ids['incident_id']}/updates",
        json={"status": "resolved", "message": f"victim update {token}"},
    )
    assert update.status_code == 201, update.text
    v.markers.add(f"victim update {token}")
    cadence = await client.put(
        f"/api/v1/teams/{v.team}/update-cadence", json={"every_minutes": {"SEV1_CRITICAL": 17}}
    )
    assert cadence.status_code == 200, cadence.text
    v.ids["slug"] = v.team
    return v


def _path(template: str, v: Victim) -> str:
    path = template
    for name, value in v.ids.items():
        path = path.replace("{" + name + "}", value)
    if template == "/api/v1/search":  # words of team B's title and note
        path += "?q=" + v.title.rsplit(" ", 1)[-1]
    return path


def _body(method: str, template: str, v: Victim, intruder_team: str) -> Any:
    """A valid body that, sent by the intruder, would act on team B."""
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/api-keys"): {"name": "minted", "scopes": ["admin"], "team": v.team},
        ("POST", "/api/v1/incidents"): new_incident(v.team),
        ("PUT", "/api/v1/incidents/{incident_id}/status"): {"status": "INVESTIGATING"},
        ("POST", "/api/v1/incidents/{incident_id}/merge"): {
            "source_incident_ids": [v.ids["merge_source_id"]],
            "reason": "intruder",
        },
        ("POST", "/api/v1/integrations"): {"kind": "events-v2", "team": v.team},
        ("PUT", "/api/v1/integrations/{integration_id}"): {"name": "moved", "config": {}},
        ("POST", "/api/v1/incidents/{incident_id}/responses/{response_id}/cancel"): {},
        ("POST", "/api/v1/incidents/{incident_id}/responses/{response_id}/retry"): {},
        ("POST", "/api/v1/oncall-schedules/{schedule_id}/overrides"): {
            "person": "intruder",
            "starts_at": "2030-02-01T00:00:00Z",
            "ends_at": "2030-02-02T00:00:00Z",
        },
        ("POST", "/api/v1/oncall-schedules"): {
            "name": "intruder schedule",
            "timezone": "UTC",
            "team": v.team,
            "layers": [
                {
                    "name": "x",
                    "rotation": "daily",
                    "participants": ["intruder"],
                    "starts": "2024-01-01",
                }
            ],
        },
        ("PUT", "/api/v1/oncall-schedules/{schedule_id}"): {
            "name": "moved",
            "timezone": "UTC",
            "team": intruder_team,
            "layers": [
                {
                    "name": "x",
                    "rotation": "daily",
                    "participants": ["intruder"],
                    "starts": "2024-01-01",
                }
            ],
        },
        ("POST", "/api/v1/escalation-policies"): {
            "team": v.team,
            "name": "intruder policy",
            "levels": [{"delay_minutes": 1, "targets": [{"type": "person", "id": "intruder"}]}],
        },
        ("PUT", "/api/v1/escalation-policies/{policy_id}"): {
            "team": intruder_team,
            "name": "moved",
            "levels": [{"delay_minutes": 1, "targets": [{"type": "person", "id": "intruder"}]}],
        },
        ("POST", "/api/v1/incidents/{incident_id}/escalate"): {"reason": "intruder"},
        ("POST", "/api/v1/subscribers"): {
            "name": "intruder",
            "kind": "nats",
            "subject": f"{v.team}.stolen",
            "team": v.team,
            "start": "beginning",
        },
        ("PUT", "/api/v1/subscribers/{subscriber_id}"): {
            "name": "moved",
            "kind": "nats",
            "subject": f"{intruder_team}.moved",
            "team": intruder_team,
        },
        ("PUT", "/api/v1/incidents/{incident_id}/postmortem/review"): {
            "contributing_factors": ["intruder"]
        },
        ("POST", "/api/v1/users"): {"name": "intruder", "teams": [v.team]},
        ("PATCH", "/api/v1/users/{user_id}"): {"name": "moved", "time_zone": "UTC"},
        ("POST", "/api/v1/teams"): {"slug": v.team, "name": "stolen"},
        ("PATCH", "/api/v1/teams/{slug}"): {"name": "moved"},
        ("POST", "/api/v1/teams/{slug}/roles"): {"slug": "intruder", "name": "intruder"},
        ("PATCH", "/api/v1/teams/{slug}/roles/{role}"): {"tasks": ["intruder"]},
        ("PUT", "/api/v1/incidents/{incident_id}/roles/{role}"): {"user_id": v.ids["user_id"]},
        ("PUT", "/api/v1/incidents/{incident_id}/checklist/{item_id}"): {"done": True},
        ("POST", "/api/v1/incidents/{incident_id}/updates"): {"message": "intruder update"},
        ("PUT", "/api/v1/teams/{slug}/update-cadence"): {"every_minutes": {"SEV1_CRITICAL": 1}},
        ("POST", "/api/v1/incidents/{incident_id}/follow-ups"): {"title": "intruder"},
        ("PATCH", "/api/v1/follow-ups/{follow_up_id}"): {"state": "done", "title": "moved"},
        ("PUT", "/api/v1/incidents/{incident_id}/postmortem/state"): {"state": "in_review"},
        ("PATCH", "/api/v1/incidents/{incident_id}"): {
            "title": "intruder",
            "assigned_team": intruder_team,
        },
        ("POST", "/api/v1/incidents/{incident_id}/notes"): {"body": "intruder"},
        ("PATCH", "/api/v1/incidents/{incident_id}/notes/{note_id}"): {"body": "intruder"},
        ("POST", "/api/v1/incidents/{incident_id}/links"): {
            "type": "related",
            "incident_id": v.ids["sibling_incident_id"],
        },
    }
    return bodies.get((method, template))


def _leaks(answer_text: str, request_text: str, v: Victim) -> list[str]:
    """Markers of team B in the answer that the caller did not send itself."""
    return sorted(m for m in v.markers if m in answer_text and m not in request_text)


async def _call(
    client: AsyncTestClient,  # type: ignore[type-arg]
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any,
) -> Any:
    # The shared client carries the admin key: every call here sets its own headers.
    base = {"Authorization": "", "X-API-Key": ""}
    base.update(headers)
    if body is None and method not in READ_METHODS:
        body = {}
    content = None if body is None else json.dumps(body)
    return await client.request(method, url, headers=base, content=content)


def test_every_operation_is_in_the_matrix(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    operations = set(_operations(client.app))
    missing = sorted(operations - set(MATRIX))
    stale = sorted(set(MATRIX) - operations)
    assert not missing, f"operations not classified in the isolation matrix: {missing}"
    assert not stale, f"matrix entries for operations that no longer exist: {stale}"


async def test_no_key_is_refused_everywhere(
    client: AsyncTestClient,  # type: ignore[type-arg]
    victim: Victim,
) -> None:
    failures = []
    for method, template in _operations(client.app):
        kind = MATRIX.get((method, template))
        if kind == PUBLIC:
            continue
        url = _path(template, victim)
        body = _body(method, template, victim, "nobody")
        answer = await _call(client, method, url, {"content-type": "application/json"}, body)
        request_text = url + json.dumps(body)
        expected = {401} if kind != INTEGRATION else {400, 401, 403, 404}
        leaks = _leaks(answer.text, request_text, victim)
        if answer.status_code not in expected or leaks:
            failures.append((method, template, answer.status_code, leaks, answer.text[:200]))
    assert not failures, failures


async def test_read_only_key_cannot_write(
    client: AsyncTestClient,  # type: ignore[type-arg]
    database_url: str,
    victim: Victim,
) -> None:
    key = make_api_key(database_url, name="reader", scopes=["incidents:read"], rate_limit=100_000)
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    failures = []
    for method, template in _operations(client.app):
        kind = MATRIX.get((method, template))
        if kind in (PUBLIC, INTEGRATION) or method in READ_METHODS:
            continue
        url = _path(template, victim)
        body = _body(method, template, victim, victim.team)
        answer = await _call(client, method, url, headers, body)
        if answer.status_code != 403:
            failures.append((method, template, answer.status_code, answer.text[:200]))
    assert not failures, failures


async def test_another_teams_key_sees_and_changes_nothing(
    client: AsyncTestClient,  # type: ignore[type-arg]
    database_url: str,
    victim: Victim,
) -> None:
    intruder_team = f"intruder-{secrets.token_hex(4)}"
    scopes = sorted(
        {"admin", "incidents:read", "incidents:write", "config:write"}
        | ({"metrics:read"} if "metrics:read" in _scope_values() else set())
    )
    key = make_api_key(
        database_url, name="intruder", scopes=scopes, team=intruder_team, rate_limit=100_000
    )
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    failures = []
    # Writes last, so that a write that wrongly succeeds cannot hide a read's leak; deletes
    # at the very end.
    order = {"GET": 0, "PUT": 1, "POST": 1, "PATCH": 1, "DELETE": 2}
    for method, template in sorted(_operations(client.app), key=lambda op: order[op[0]]):
        kind = MATRIX.get((method, template))
        if kind in (PUBLIC, INTEGRATION):
            continue
        url = _path(template, victim)
        body = _body(method, template, victim, intruder_team)
        answer = await _call(client, method, url, headers, body)
        request_text = url + json.dumps(body)
        leaks = _leaks(answer.text, request_text, victim)
        # A list answers with the intruder's own entries, or 403 where it spans every team.
        allowed = {200, 403} if kind == LIST else {403, 404}
        if answer.status_code not in allowed or leaks:
            failures.append((method, template, answer.status_code, leaks, answer.text[:300]))
    calls = sum(1 for op in _operations(client.app) if MATRIX.get(op) not in (PUBLIC, INTEGRATION))
    print(f"isolation matrix: another team's key with every scope: {calls} operations tried")
    assert not failures, "\n".join(map(str, failures))

    # Nothing of team B changed: its resources are all still there, unmoved.
    follow_up = (await client.get(f"/api/v1/follow-ups/{victim.ids['follow_up_id']}")).json()
    assert (follow_up["state"], follow_up["team"]) == ("open", victim.team), follow_up
    postmortem = await client.get(f"/api/v1/incidents/{victim.ids['incident_id']}/postmortem")
    assert postmortem.json()["state"] == "draft", postmortem.text
    for path in (
        f"/api/v1/escalation-policies/{victim.ids['policy_id']}",
        f"/api/v1/oncall-schedules/{victim.ids['schedule_id']}",
        f"/api/v1/subscribers/{victim.ids['subscriber_id']}",
        f"/api/v1/integrations/{victim.ids['integration_id']}",
        f"/api/v1/incidents/{victim.ids['incident_id']}",
        f"/api/v1/incidents/{victim.ids['merge_source_id']}",
    ):
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json().get("merged_into") is None, (path, answer.text)
        team = answer.json().get("team") or answer.json().get("assigned_team")
        if team is not None:
            assert team == victim.team, (path, answer.text)
    # Team B's people and roles too: same name, member, role holder and unticked task.
    team_b = (await client.get(f"/api/v1/teams/{victim.team}")).json()
    assert team_b["name"] == f"{victim.team} name"
    assert [m["user_id"] for m in team_b["members"]] == [victim.ids["user_id"]]
    assert (await client.get(f"/api/v1/users/{victim.ids['user_id']}")).json()[
        "name"
    ] in victim.markers
    roles = (await client.get(f"/api/v1/incidents/{victim.ids['incident_id']}/roles")).json()
    assert [h["user_id"] for h in roles["history"]] == [victim.ids["user_id"]]
    assert roles["current"] == roles["history"]
    items = (await client.get(f"/api/v1/incidents/{victim.ids['incident_id']}/checklist")).json()
    assert [i["done"] for i in items] == [False]
    cadence = await client.get(f"/api/v1/teams/{victim.team}/update-cadence")
    assert cadence.json()["every_minutes"]["SEV1_CRITICAL"] == 17, cadence.text
    updates = await client.get(f"/api/v1/incidents/{victim.ids['incident_id']}/updates")
    assert [u["author"]["name"] for u in updates.json()] == ["test-admin"], updates.text


def _scope_values() -> set[str]:
    from incident_service.auth.schemas import Scope

    return {s.value for s in Scope}


async def test_metrics_are_not_for_team_keys(
    client: AsyncTestClient,  # type: ignore[type-arg]
    database_url: str,
    victim: Victim,
) -> None:
    """/metrics (outside the document) counts every team: no key is 401, a team key with
    every scope is 403, a `metrics:read` key without a team reads it."""
    team_key = make_api_key(
        database_url,
        name="intruder-metrics",
        scopes=["admin", "metrics:read"],
        team=f"intruder-{secrets.token_hex(4)}",
    )
    scraper = make_api_key(database_url, name="prometheus", scopes=["metrics:read"])
    assert (await _call(client, "GET", "/metrics", {}, None)).status_code == 401
    refused = await _call(client, "GET", "/metrics", {"Authorization": f"Bearer {team_key}"}, None)
    assert refused.status_code == 403 and not _leaks(refused.text, "", victim), refused.text
    scraped = await _call(client, "GET", "/metrics", {"Authorization": f"Bearer {scraper}"}, None)
    assert scraped.status_code == 200


async def test_another_teams_sessions_see_and_change_nothing(
    client: AsyncTestClient,  # type: ignore[type-arg]
    database_url: str,
    victim: Victim,
) -> None:
    """The console's sessions (cookie + CSRF token, no key header) of team A: one opened
    with team A's every-scope key, one of a team A admin signed in through OIDC. The same
    answers as the key's on every operation (the CSRF token is sent, so that the team
    rules, not the CSRF check, are what answers)."""
    import psycopg
    from psycopg.rows import dict_row

    from incident_service.auth import service, sessions
    from incident_service.principal import Role

    intruder_team = f"intruder-{secrets.token_hex(4)}"
    key = make_api_key(
        database_url,
        name="intruder",
        scopes=["admin", "config:write", "incidents:read", "incidents:write"],
        team=intruder_team,
        rate_limit=100_000,
    )
    made = await client.post("/api/v1/teams", json={"slug": intruder_team, "name": "A"})
    assert made.status_code == 201, made.text
    user = await client.post(
        "/api/v1/users", json={"name": "intruder admin", "teams": [intruder_team], "role": "admin"}
    )
    assert user.status_code == 201, user.text
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        signed_in = await sessions.sign_in_with_key(conn, key, ttl_s=3600)
        assert isinstance(signed_in, tuple)
        console_key = await service.console_key(
            conn,
            user_id=uuid.UUID(user.json()["id"]),
            name="intruder admin",
            role=Role.ADMIN,
            team=intruder_team,
            actor="tests",
        )
        assert isinstance(console_key, uuid.UUID)
        by_user = await sessions.open_session(conn, console_key, via="oidc", ttl_s=3600)
        await conn.commit()
    by_key = signed_in[1]
    order = {"GET": 0, "PUT": 1, "POST": 1, "PATCH": 1, "DELETE": 2}
    failures: list[tuple[Any, ...]] = []
    for opened in (by_key, by_user):
        headers = {
            "Cookie": f"{sessions.SESSION_COOKIE}={opened.token}",
            "X-CSRF-Token": opened.csrf_token,
            "content-type": "application/json",
        }
        for method, template in sorted(_operations(client.app), key=lambda op: order[op[0]]):
            kind = MATRIX.get((method, template))
            if kind in (PUBLIC, INTEGRATION):
                continue
            url = _path(template, victim)
            body = _body(method, template, victim, intruder_team)
            answer = await _call(client, method, url, headers, body)
            leaks = _leaks(answer.text, url + json.dumps(body), victim)
            allowed = {200, 403} if kind == LIST else {403, 404}
            if answer.status_code not in allowed or leaks:
                failures.append((method, template, answer.status_code, leaks, answer.text[:300]))
            if answer.status_code == 403 and "CSRF" in answer.text:
                failures.append((method, template, "refused by CSRF, not by team"))
    assert not failures, "\n".join(map(str, failures))
    incident = await client.get(f"/api/v1/incidents/{victim.ids['incident_id']}")
    assert incident.status_code == 200 and incident.json()["assigned_team"] == victim.team
