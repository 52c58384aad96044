"""POST /v2/enqueue: PagerDuty's Events API v2, against real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.alerts.conftest import fixture, make_integration


def trigger(key: str, dedup_key: str | None = "srv01/mysql", **payload: Any) -> dict[str, Any]:
    event = fixture("pd_events_v2_trigger.json") | {"routing_key": key}
    if dedup_key is None:
        del event["dedup_key"]
    else:
        event["dedup_key"] = dedup_key
    event["payload"] = event["payload"] | payload
    return event


async def enqueue(client, event: dict[str, Any]):
    return await client.post("/v2/enqueue", json=event)


async def test_fixture_trigger_opens_an_incident(client, team, events_key) -> None:
    response = await enqueue(client, trigger(events_key))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "srv01/mysql",
    }
    incidents = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["severity"] == "SEV1_CRITICAL"
    assert incident["title"] == "DISK at 99% on machine prod-datapipe03.example.com"
    assert incident["affected_services"] == ["mysql"]
    assert incident["created_by"].startswith("integration:events-v2:")
    assert "free space" in incident["description"]

    alerts = (await client.get(f"/api/v1/incidents/{incident['incident_id']}/alerts")).json()
    assert len(alerts) == 1
    assert alerts[0]["payload"]["payload"]["custom_details"]["load avg"] == 0.75
    assert alerts[0]["payload"]["routing_key"] == "[redacted]", "keys are not stored"
    timeline = (await client.get(f"/api/v1/incidents/{incident['incident_id']}/timeline")).json()
    assert [e["kind"] for e in timeline] == ["created", "alert"]


async def test_same_dedup_key_feeds_the_open_incident_until_resolved(
    client, team, events_key
) -> None:
    first = (await enqueue(client, trigger(events_key, "k1"))).json()
    await enqueue(client, trigger(events_key, "k1", summary="still full"))
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(listed) == 1, "a repeat trigger adds to the open incident"
    incident_id = listed[0]["incident_id"]
    assert first["dedup_key"] == "k1"

    ack = {"routing_key": events_key, "event_action": "acknowledge", "dedup_key": "k1"}
    assert (await enqueue(client, ack)).status_code == 202
    got = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    assert got["status"] == "ACKNOWLEDGED"

    resolve = fixture("pd_events_v2_resolve.json") | {"routing_key": events_key, "dedup_key": "k1"}
    assert (await enqueue(client, resolve)).status_code == 202
    got = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    assert got["status"] == "RESOLVED"
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    assert [e["kind"] for e in timeline].count("alert") == 4, "every alert is on the timeline"
    assert timeline[-1]["to_status"] == "RESOLVED"

    # A trigger after a resolve opens a new incident.
    await enqueue(client, trigger(events_key, "k1"))
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(listed) == 2
    assert listed[0]["incident_id"] != incident_id and listed[0]["status"] == "OPEN"


async def test_incident_resolved_by_a_person_ends_the_group(client, team, events_key) -> None:
    await enqueue(client, trigger(events_key, "human"))
    (incident,) = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    url = f"/api/v1/incidents/{incident['incident_id']}/status"
    assert (await client.put(url, json={"status": "RESOLVED"})).status_code == 200
    await enqueue(client, trigger(events_key, "human"))
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(listed) == 2


async def test_trigger_without_dedup_key_gets_one(client, team, events_key) -> None:
    body = (await enqueue(client, trigger(events_key, None))).json()
    assert len(body["dedup_key"]) == 32
    resolve = {"routing_key": events_key, "event_action": "resolve", "dedup_key": body["dedup_key"]}
    await enqueue(client, resolve)
    (incident,) = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert incident["status"] == "RESOLVED"


async def test_resolve_of_unknown_key_is_stored_and_opens_nothing(client, team, events_key) -> None:
    event = {"routing_key": events_key, "event_action": "resolve", "dedup_key": "never-seen"}
    response = await enqueue(client, event)
    assert response.status_code == 202
    assert (await client.get("/api/v1/incidents", params={"assigned_team": team})).json() == []


async def test_severity_mapping_is_configurable(client, team) -> None:
    integration = await make_integration(
        client, team, "events-v2", config={"severity_map": {"info": "SEV2_HIGH"}}
    )
    await enqueue(client, trigger(integration["integration_key"], "m", severity="info"))
    (incident,) = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert incident["severity"] == "SEV2_HIGH"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"routing_key": None}, "'routing_key' is missing or blank"),
        ({"routing_key": "short"}, "Length of 'routing_key' is incorrect"),
        ({"event_action": "explode"}, "'event_action' is invalid"),
        ({"event_action": None}, "'event_action' is missing or blank"),
        ({"payload": None}, "'payload' is missing or invalid"),
        ({"payload": {"summary": "", "source": "s", "severity": "info"}}, "'payload.summary'"),
        ({"payload": {"summary": "x" * 1025, "source": "s", "severity": "info"}}, "too long"),
        ({"payload": {"summary": "s", "severity": "info"}}, "'payload.source'"),
        ({"payload": {"summary": "s", "source": "s", "severity": "bad"}}, "'payload.severity'"),
        (
            {"payload": {"summary": "s", "source": "s", "severity": "info", "timestamp": "x"}},
            "'payload.timestamp'",
        ),
        ({"dedup_key": "k" * 256}, "'dedup_key' is too long"),
        ({"dedup_key": 5}, "'dedup_key' must be a string"),
        ({"links": [{"text": "no href"}]}, "'links'"),
        ({"payload": {"summary": "a\u0000b", "source": "s", "severity": "info"}}, "NUL"),
    ],
)
async def test_invalid_events_get_pagerdutys_error_shape(
    client, team, events_key, change: dict[str, Any], error: str
) -> None:
    event = trigger(events_key) | change
    event = {k: v for k, v in event.items() if v is not None}
    response = await enqueue(client, event)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(error in e for e in body["errors"]), body
    assert (await client.get("/api/v1/incidents", params={"assigned_team": team})).json() == []


async def test_acknowledge_and_resolve_need_a_dedup_key(client, events_key) -> None:
    for action in ("acknowledge", "resolve"):
        response = await enqueue(client, {"routing_key": events_key, "event_action": action})
        assert response.status_code == 400
        assert any("'dedup_key'" in e for e in response.json()["errors"])


async def test_unknown_or_wrong_kind_of_key_is_refused(client, team) -> None:
    response = await enqueue(client, trigger("0" * 32))
    assert response.status_code == 400
    assert response.json()["errors"] == ["'routing_key' does not match any integration"]
    alertmanager = await make_integration(client, team, "alertmanager")
    response = await enqueue(client, trigger(alertmanager["integration_key"]))
    assert response.status_code == 400


async def test_malformed_json_and_oversized_events(client, events_key) -> None:
    response = await client.post(
        "/v2/enqueue", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    response = await client.post("/v2/enqueue", json=[1, 2])
    assert response.status_code == 400
    huge = trigger(events_key, custom_details={"blob": "x" * (520 * 1024)})
    response = await client.post(
        "/v2/enqueue", content=json.dumps(huge), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "too large" in response.json()["errors"][0]


async def test_keys_are_hashed_at_rest_and_never_listed(client, team, database_url) -> None:
    import psycopg

    created = await make_integration(client, team, "events-v2")
    key = created["integration_key"]
    listed = (await client.get("/api/v1/integrations", params={"team": team})).text
    assert key not in listed and created["key_prefix"] == key[:6]
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select integrations::text from integrations where id = %s",
            (created["integration_id"],),
        ).fetchone()
    assert row is not None and key not in row[0]


async def test_change_events_are_stored_and_open_nothing(
    client, team, events_key, database_url
) -> None:
    import psycopg

    event = {
        "routing_key": events_key,
        "payload": {"summary": "Deployed v42", "source": "ci", "timestamp": "2026-01-01T10:00:00Z"},
        "links": [{"href": "https://ci.example.com/42"}],
    }
    response = await client.post("/v2/change/enqueue", json=event)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "success"
    bad = await client.post("/v2/change/enqueue", json={"routing_key": events_key, "payload": {}})
    assert bad.status_code == 400 and bad.json()["status"] == "invalid event"
    assert (await client.get("/api/v1/incidents", params={"assigned_team": team})).json() == []
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select c.summary, c.payload->>'routing_key' from change_events c"
            " join integrations i on i.id = c.integration_id where i.team = %s",
            (team,),
        ).fetchone()
    assert row == ("Deployed v42", "[redacted]")
