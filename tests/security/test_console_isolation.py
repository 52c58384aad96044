"""The console in the team-isolation matrix: every route under /ui/, tried by team A (a
key with every scope, and a signed-in session of that key) against team B's incident.
Items answer 404 and change nothing; lists and pages name nothing of team B. A new console
route fails `test_every_console_route_is_classified` until it is listed here."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.databases import make_api_key
from tests.conftest import new_incident

PUBLIC, LIST, ITEM, SELF, STREAM = "public", "list", "item", "self", "stream"

CONSOLE: dict[tuple[str, str], str] = {
    ("GET", "/ui/static/{name}"): PUBLIC,
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    # OIDC sign-in: nothing of any team until the callback has signed someone in.
    ("GET", "/ui/login/oidc"): PUBLIC,
    ("GET", "/ui/login/oidc/callback"): PUBLIC,
    ("POST", "/ui/logout"): SELF,
    ("GET", "/ui"): LIST,
    ("GET", "/ui/mine"): LIST,
    ("GET", "/ui/incidents/stream"): STREAM,  # its team filter: tests/console/test_list.py
    ("GET", "/ui/incidents/{incident_id}"): ITEM,
    ("GET", "/ui/incidents/{incident_id}/similar"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/status"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/severity"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/notes"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/updates"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/escalate"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/roles"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/merge"): ITEM,
    ("POST", "/ui/incidents/{incident_id}/responses/{response_id}/{command}"): ITEM,
    ("GET", "/ui/on-call"): LIST,
    ("GET", "/ui/on-call/schedules/{schedule_id}"): ITEM,
    ("POST", "/ui/on-call/schedules/{schedule_id}"): ITEM,
    ("POST", "/ui/on-call/schedules/{schedule_id}/overrides"): ITEM,
    ("POST", "/ui/on-call/schedules/{schedule_id}/overrides/{override_id}/delete"): ITEM,
    ("GET", "/ui/on-call/policies/{policy_id}"): ITEM,
    ("POST", "/ui/on-call/policies/{policy_id}"): ITEM,
}

# A valid form for each write, as team B's own responder would send it.
FORMS: dict[str, dict[str, str]] = {
    "status": {"status": "ACKNOWLEDGED"},
    "severity": {"severity": "SEV4_LOW"},
    "notes": {"body": "intruder note"},
    "updates": {"message": "intruder update"},
    "escalate": {"reason": "intruder"},
    "roles": {"role": "commander"},
    "merge": {"target_id": "{other}"},
    "{command}": {},
    "{schedule_id}": {
        "name": "intruded",
        "timezone": "UTC",
        "layers.0.name": "p",
        "layers.0.rotation": "daily",
        "layers.0.participants": "mallory",
        "layers.0.starts": "2024-01-01",
    },
    "{policy_id}": {
        "name": "intruded",
        "repeat": "0",
        "levels.0.delay_minutes": "1",
        "levels.0.targets": "person:mallory",
    },
    "overrides": {
        "person": "mallory",
        "starts_at": "2030-01-01T00:00",
        "ends_at": "2030-01-02T00:00",
    },
    "delete": {},
}


def console_routes(app: Any) -> list[tuple[str, str]]:
    found = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if path == "/ui" or path.startswith("/ui/"):
            for method in getattr(route, "methods", ()):
                if method in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                    found.add((method, path))
    return sorted(found)


def test_every_console_route_is_classified(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    routes = set(console_routes(client.app))
    assert not routes - set(CONSOLE), f"console routes not in the matrix: {routes - set(CONSOLE)}"
    assert not set(CONSOLE) - routes, f"stale entries: {set(CONSOLE) - routes}"


@pytest.fixture
async def intruder_session(
    settings: Settings, database_url: str
) -> AsyncIterator[tuple[AsyncTestClient, str, str]]:  # type: ignore[type-arg]
    """Team A's key with every scope, and a browser signed in with it: (client, key, csrf)."""
    team = f"intruder-{secrets.token_hex(4)}"
    scopes = ["admin", "incidents:read", "incidents:write", "config:write"]
    key = make_api_key(database_url, name="intruder", scopes=scopes, team=team, rate_limit=100_000)
    quick = settings.model_copy(update={"session_cookie_secure": False})
    async with AsyncTestClient(app=create_app(quick)) as browser:
        signed = await browser.post("/ui/login", data={"api_key": key}, follow_redirects=False)
        assert signed.status_code == 303
        page = (await browser.get("/ui/")).text
        csrf = page.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
        yield browser, key, csrf


async def test_team_a_sees_and_changes_nothing_of_team_b(client, intruder_session) -> None:  # type: ignore[no-untyped-def]
    browser, key, csrf = intruder_session
    token = secrets.token_hex(4)
    victim_team, title = f"victim-{token}", f"console victim {token}"
    created = await client.post(
        "/api/v1/incidents", json=new_incident(victim_team, title=title, severity="SEV1_CRITICAL")
    )
    iid = created.json()["incident_id"]
    other = (await client.post("/api/v1/incidents", json=new_incident(victim_team))).json()
    schedule = await client.post(
        "/api/v1/oncall-schedules",
        json={
            "name": f"victim schedule {token}",
            "timezone": "UTC",
            "team": victim_team,
            "layers": [
                {"name": "p", "rotation": "daily", "participants": [f"victim-person-{token}"],
                 "starts": "2024-01-01"}
            ],
        },
    )  # fmt: skip
    sid = schedule.json()["id"]
    override = await client.post(
        f"/api/v1/oncall-schedules/{sid}/overrides",
        json={"person": f"victim-cover-{token}", "starts_at": "2030-01-01T00:00:00Z",
              "ends_at": "2030-01-02T00:00:00Z"},
    )  # fmt: skip
    policy = await client.post(
        "/api/v1/escalation-policies",
        json={"team": victim_team, "name": f"victim policy {token}",
              "levels": [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": sid}]}]},
    )  # fmt: skip
    ids = {
        "{incident_id}": iid,
        "{response_id}": "r-1",
        "{command}": "cancel",
        "{schedule_id}": sid,
        "{override_id}": override.json()["id"],
        "{policy_id}": policy.json()["id"],
    }
    markers = {victim_team, title, iid, f"victim-person-{token}", f"victim-cover-{token}"}
    markers |= {f"victim schedule {token}", f"victim policy {token}", sid, policy.json()["id"]}

    callers = {
        "key": (client, {"Authorization": f"Bearer {key}", "Accept": "text/html"}, {}),
        "session": (browser, {"Authorization": "", "Accept": "text/html"}, {"_csrf_token": csrf}),
    }
    failures = []
    for caller, (http, headers, extra) in callers.items():
        for (method, template), kind in CONSOLE.items():
            if kind in (PUBLIC, SELF, STREAM):
                continue
            path = template
            for name, value in ids.items():
                path = path.replace(name, value)
            if method == "GET":
                answer = await http.get(path, headers=headers, follow_redirects=False)
                if kind == LIST:
                    answer = await http.get(path, params={"team": victim_team}, headers=headers)
                    searched = await http.get(path, params={"q": title}, headers=headers)
                    # (Each answer echoes what its caller asked for in the filter form.)
                    leaks = sorted(
                        {m for m in markers - {victim_team} if m in answer.text}
                        | {m for m in markers - {title} if m in searched.text}
                    )
                    if answer.status_code != 200 or leaks:
                        failures.append((caller, template, answer.status_code, leaks))
                    continue
            else:
                action = template.rsplit("/", 1)[-1]
                form = {
                    k: v.replace("{other}", other["incident_id"]) for k, v in FORMS[action].items()
                }
                answer = await http.post(
                    path, data=form | extra, headers=headers, follow_redirects=False
                )
            leaks = sorted(m for m in markers if m in answer.text and m not in path)
            if answer.status_code != 404 or leaks:
                failures.append((caller, method, template, answer.status_code, leaks))
    assert not failures, failures
    # Nothing changed on team B's incident.
    after = (await client.get(f"/api/v1/incidents/{iid}")).json()
    assert after["status"] == "OPEN" and after["severity"] == "SEV1_CRITICAL"
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert {e["actor"] for e in timeline} <= {"test-admin"}
    kept = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()
    assert kept["name"] == f"victim schedule {token}" and len(kept["overrides"]) == 1
    kept_policy = (await client.get(f"/api/v1/escalation-policies/{ids['{policy_id}']}")).json()
    assert kept_policy["name"] == f"victim policy {token}"
