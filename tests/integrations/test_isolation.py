"""A team's key sees and changes its own team's integrations only; what the API shows of
an integration never carries a credential or a remote server's answer."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import psycopg
import pytest

from testkit.databases import make_api_key
from tests.integrations.conftest import PD_SERVICE


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-API-Key": ""}


@pytest.fixture
def teams(database_url: str) -> dict[str, Any]:
    """Two teams; a key of team A with every scope."""
    a, b = f"a-{secrets.token_hex(4)}", f"b-{secrets.token_hex(4)}"
    key = make_api_key(
        database_url,
        name="team a config",
        scopes=["incidents:read", "incidents:write", "config:write", "admin"],
        team=a,
        rate_limit=100_000,
    )
    return {"a": a, "b": b, "headers": _headers(key)}


async def test_a_team_key_cannot_create_for_another_team(client, teams) -> None:
    for kind, config in (("events-v2", {}), ("pagerduty", {"service_id": PD_SERVICE})):
        body = {"kind": kind, "team": teams["b"], "config": config}
        response = await client.post("/api/v1/integrations", json=body, headers=teams["headers"])
        assert response.status_code == 403, response.text
        assert [e["key"] for e in response.json()["extra"]] == ["team"]
        assert "integration_key" not in response.text
    own = {"kind": "events-v2", "team": teams["a"]}
    created = await client.post("/api/v1/integrations", json=own, headers=teams["headers"])
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "team a config", "the principal, not 'api'"
    listed = (await client.get("/api/v1/integrations", params={"team": teams["b"]})).json()
    assert listed == [], "nothing was made for team B"


async def test_another_teams_integration_is_not_found(client, teams) -> None:
    theirs = await client.post(
        "/api/v1/integrations", json={"kind": "events-v2", "team": teams["b"], "name": "b's"}
    )
    integration_id = theirs.json()["integration_id"]
    key_before = theirs.json()["integration_key"]
    base = f"/api/v1/integrations/{integration_id}"
    missing = f"/api/v1/integrations/{uuid.uuid4()}"
    calls = [
        ("GET", "", None),
        ("PUT", "", {"name": "mine now", "config": {}}),
        ("POST", "/disable", None),
        ("POST", "/enable", None),
        ("POST", "/rotate-key", None),
    ]
    for method, suffix, body in calls:
        answer = await client.request(method, base + suffix, json=body, headers=teams["headers"])
        absent = await client.request(method, missing + suffix, json=body, headers=teams["headers"])
        assert answer.status_code == 404, (method, suffix, answer.text)
        assert answer.json()["detail"].replace(integration_id, "X") == absent.json()[
            "detail"
        ].replace(missing.rsplit("/", 1)[1], "X"), "the same answer as for none"
        assert teams["b"] not in answer.text

    # Untouched: still team B's, enabled, its key still working.
    got = (await client.get(base)).json()
    assert got["team"] == teams["b"] and got["name"] == "b's" and got["enabled"]
    event = {
        "routing_key": key_before,
        "event_action": "trigger",
        "payload": {"summary": "still b's", "source": "s", "severity": "info"},
    }
    assert (await client.post("/v2/enqueue", json=event)).status_code == 202


async def test_lists_are_filtered_to_the_callers_team(client, teams, database_url) -> None:
    ids = {}
    for name in ("a", "b"):
        created = await client.post(
            "/api/v1/integrations",
            json={"kind": "pagerduty", "team": teams[name], "config": {"service_id": PD_SERVICE}},
        )
        ids[name] = created.json()["integration_id"]
    incident = await client.post(
        "/api/v1/incidents",
        json={
            "title": "b's incident",
            "description": "d",
            "severity": "SEV2_HIGH",
            "affected_services": ["s"],
            "assigned_team": teams["b"],
        },
    )
    incident_id = incident.json()["incident_id"]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "insert into integration_syncs (sync_id, incident_id, integration_id, system,"
            " action, status, attempts, last_error) values (%s, %s, %s, 'pagerduty',"
            " 'created', 'failed', 1, 'HTTP 401 from pagerduty')",
            (f"sync-{uuid.uuid4()}", incident_id, ids["b"]),
        )

    mine = await client.get("/api/v1/integrations", headers=teams["headers"])
    assert mine.status_code == 200
    assert {i["team"] for i in mine.json()} == {teams["a"]}
    asked = await client.get(
        "/api/v1/integrations", params={"team": teams["b"]}, headers=teams["headers"]
    )
    assert asked.json() == []
    syncs = await client.get("/api/v1/integrations/syncs", headers=teams["headers"])
    assert syncs.status_code == 200
    assert incident_id not in syncs.text and ids["b"] not in syncs.text
    everything = await client.get("/api/v1/integrations/syncs", params={"limit": 1000})
    assert incident_id in everything.text, "an unrestricted key sees every team's"


async def test_config_is_checked_against_the_kinds_schema(client, team) -> None:
    cases = [
        ("alertmanager", {"severity_labels": "zzz"}, "severity_labels"),
        ("grafana", {"severity_label": ["x"]}, "severity_label"),
        ("events-v2", {"default_severity": "P1"}, "default_severity"),
        ("events-v2", {"secret_name": "x"}, "secret_name"),  # only webhooks are signed
        ("alertmanager", {"zzz": 1, "severity_lables": {}}, "severity_lables, zzz"),
        ("pagerduty", {"service_id": ""}, "service_id"),
        ("pagerduty", {"service_id": "P1", "urgency": "high"}, "urgency"),
        ("jira", {"project": "OPS", "priority_map": {"P1": "Highest"}}, "priority_map"),
        ("jira", {"project": "OPS", "fields": "labels"}, "fields"),
        ("servicenow", {"close_code": 7}, "close_code"),
    ]
    for kind, config, named in cases:
        response = await client.post(
            "/api/v1/integrations", json={"kind": kind, "team": team, "config": config}
        )
        assert response.status_code == 400, (kind, config, response.text)
        assert named in response.text, (kind, config, response.text)
        assert [e["key"] for e in response.json()["extra"]] == ["config"]
    outbound_limit = await client.post(
        "/api/v1/integrations",
        json={
            "kind": "pagerduty",
            "team": team,
            "config": {"service_id": PD_SERVICE},
            "rate_limit_per_min": 5,
        },
    )
    assert outbound_limit.status_code == 400
    assert [e["key"] for e in outbound_limit.json()["extra"]] == ["rate_limit_per_min"]
    assert (await client.get("/api/v1/integrations", params={"team": team})).json() == []


async def test_valid_configs_are_stored_as_sent(client, team) -> None:
    configs = {
        "events-v2": {"severity_map": {"p1": "SEV1_CRITICAL"}, "default_severity": "SEV4_LOW"},
        "alertmanager": {
            "severity_label": "priority",
            "severity_labels": {"p1": "critical", "sev-x": "custom"},
            "severity_map": {"custom": "SEV2_HIGH"},
        },
        "grafana": {"secret_name": "g", "signature_header": "X-Sig", "timestamp_header": "X-Ts"},
        "pagerduty": {"service_id": PD_SERVICE, "from_email": "bot@example.com"},
        "jira": {
            "project": "OPS",
            "issue_type": "Bug",
            "fields": {"components": [{"name": "db"}], "customfield_1": 3},
            "priority_map": {"SEV1_CRITICAL": "Highest"},
            "resolve_transition": "Resolve",
            "close_transition": "Close",
        },
        "servicenow": {"close_code": "Workaround", "assignment_group": "ops"},
    }
    for kind, config in configs.items():
        response = await client.post(
            "/api/v1/integrations", json={"kind": kind, "team": team, "config": config}
        )
        assert response.status_code == 201, (kind, response.text)
        assert response.json()["config"] == config


async def test_update_checks_the_config_and_the_alerts_still_work(client, team) -> None:
    created = await client.post(
        "/api/v1/integrations", json={"kind": "alertmanager", "team": team, "name": "am"}
    )
    integration = created.json()
    url = f"/api/v1/integrations/{integration['integration_id']}"
    bad = await client.put(url, json={"name": "am", "config": {"severity_labels": "zzz"}})
    assert bad.status_code == 400 and "severity_labels" in bad.text
    moved = await client.put(url, json={"name": "am", "team": "elsewhere"})
    assert moved.status_code == 400 and "team" in moved.text
    good = await client.put(
        url,
        json={"name": "am2", "config": {"severity_labels": {"disaster": "critical"}}},
    )
    assert good.status_code == 200, good.text
    assert good.json()["name"] == "am2" and good.json()["updated_at"] is not None
    from tests.alerts.conftest import fixture

    note = fixture("alertmanager_v4_firing.json")
    note["commonLabels"]["severity"] = "disaster"
    note["alerts"][0]["labels"]["severity"] = "disaster"
    sent = await client.post(integration["url"], json=note)
    assert sent.status_code == 200, sent.text
    (incident,) = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert incident["severity"] == "SEV1_CRITICAL"


async def test_remote_urls_are_shown_without_credentials(client, team, database_url) -> None:
    created = await client.post(
        "/api/v1/integrations",
        json={"kind": "jira", "team": team, "config": {"project": "OPS"}},
    )
    incident = await client.post(
        "/api/v1/incidents",
        json={
            "title": "t",
            "description": "d",
            "severity": "SEV3_MEDIUM",
            "affected_services": ["s"],
            "assigned_team": team,
        },
    )
    incident_id = incident.json()["incident_id"]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "insert into integration_links (incident_id, integration_id, system, remote_id,"
            " remote_url) values (%s, %s, 'jira', %s, %s)",
            (
                incident_id,
                created.json()["integration_id"],
                f"x-{secrets.token_hex(4)}",
                "https://bot:hunter2@jira.example.com/browse/OPS-1?token=s3cr3t&view=full",
            ),
        )
    shown = await client.get(f"/api/v1/incidents/{incident_id}/integrations")
    (link,) = shown.json()["links"]
    assert link["remote_url"] == "https://jira.example.com/browse/OPS-1?token=***&view=full"
    assert "hunter2" not in shown.text and "s3cr3t" not in shown.text
