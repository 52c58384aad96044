"""Hostile bodies on the intake routes: 400 in each sender's own shape, never a 5xx (a
sender retries a 5xx for ever), and nothing stored silently changed."""

from __future__ import annotations

import json

import pytest

from tests.alerts.conftest import fixture, make_integration


def _event(key: str) -> str:
    event = fixture("pd_events_v2_trigger.json") | {"routing_key": key}
    return json.dumps(event)


# (what, how the JSON text of a valid event is spoilt): each is refused.
SPOILERS = [
    ("escaped lone surrogate", lambda t: t.replace('"srv01/mysql"', '"srv01/\\ud800"')),
    ("escaped lone low surrogate in a key", lambda t: t.replace('"load avg"', '"\\udc00"')),
    ("NaN", lambda t: t.replace("0.75", "NaN")),
    ("Infinity", lambda t: t.replace("0.75", "Infinity")),
    ("-Infinity", lambda t: t.replace("0.75", "-Infinity")),
    ("a number too large for a double", lambda t: t.replace("0.75", "1e400")),
]
RAW = [
    ("invalid UTF-8", b"\xff\xfe"),
    ("an encoded surrogate (CESU)", b"\xed\xa0\x80"),
    ("a truncated sequence", b"\xc3"),
]


def _bodies(text: str) -> list[tuple[str, bytes]]:
    spoilt = [(name, spoil(text).encode()) for name, spoil in SPOILERS]
    # Raw bytes inside a string value of the event.
    marker = '"DISK at 99% on machine prod-datapipe03.example.com"'
    assert marker in text
    head, tail = text.encode().split(marker.encode())
    raw = [(name, head + b'"' + bad + b'"' + tail) for name, bad in RAW]
    return spoilt + raw


async def test_events_v2_refuses_them_in_pagerdutys_shape(client, team, events_key) -> None:
    for name, body in _bodies(_event(events_key)):
        for path in ("/v2/enqueue", "/v2/change/enqueue"):
            response = await client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, (name, path, response.text)
            answer = response.json()
            assert answer["status"] == "invalid event", (name, answer)
            assert answer["message"] == "Event object is invalid"
            assert answer["errors"], (name, answer)
    listed = await client.get("/api/v1/incidents", params={"assigned_team": team})
    assert listed.json() == []


async def test_custom_details_nan_is_named(client, events_key) -> None:
    body = _event(events_key).replace("0.75", "NaN").encode()
    response = await client.post(
        "/v2/enqueue", content=body, headers={"content-type": "application/json"}
    )
    assert any("NaN" in e for e in response.json()["errors"]), response.text


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
async def test_webhooks_refuse_them_naming_the_body(client, team, kind: str) -> None:
    integration = await make_integration(client, team, kind)
    name = (
        "alertmanager_v4_firing.json"
        if kind == "alertmanager"
        else "grafana_webhook_v1_firing.json"
    )
    note = fixture(name)
    cases = {
        # Kept verbatim in the stored payload: a 500 once PostgreSQL saw it.
        "surrogate in a field of the sender's own": json.dumps(
            note | {"alerts": [note["alerts"][0] | {"extra": "\ud800"}]}
        ).encode(),
        "escaped lone surrogate": json.dumps(note).replace('"firing"', '"\\ud800"', 1).encode(),
        "surrogate in a label": json.dumps(
            note | {"commonLabels": {"alertname": "x\ud800"}}, ensure_ascii=True
        ).encode(),
        "NaN": json.dumps(note | {"extra": float("nan")}).encode(),
        "Infinity": json.dumps(note | {"extra": float("inf")}).encode(),
        "invalid UTF-8": json.dumps(note).encode().replace(b'"firing"', b'"\xff"', 1),
        "encoded surrogate": json.dumps(note).encode().replace(b'"firing"', b'"\xed\xa0\x80"', 1),
    }
    for what, body in cases.items():
        response = await client.post(
            integration["url"], content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (what, response.text)
        assert [e["key"] for e in response.json()["extra"]] == ["body"], (what, response.text)
    listed = await client.get("/api/v1/incidents", params={"assigned_team": team})
    assert listed.json() == []


async def test_a_surrogate_in_the_key_path_is_a_404(client) -> None:
    note = fixture("alertmanager_v4_firing.json")
    for key in ("%ED%A0%80", "%FF", "%F0%9F%98%80"):
        response = await client.post(f"/api/v1/integrations/alertmanager/{key}", json=note)
        assert response.status_code in (400, 404), (key, response.text)


async def test_a_stored_invalid_config_is_a_503_not_a_500(client, team, database_url) -> None:
    """A config stored before configs were checked (here: written around the API) makes
    the sender retry (our fault) instead of failing every notification with a 500."""
    import psycopg

    integration = await make_integration(client, team, "alertmanager")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """update integrations set config = '{"severity_labels": "zzz"}' where id = %s""",
            (integration["integration_id"],),
        )
    response = await client.post(integration["url"], json=fixture("alertmanager_v4_firing.json"))
    assert response.status_code == 503, response.text
    assert "retry-after" in response.headers and "zzz" not in response.text
