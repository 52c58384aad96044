"""Alertmanager v4 and Grafana v1 webhooks, with and without HMAC signatures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.integrations.settings import IntegrationSettings
from tests.alerts.conftest import fixture, make_integration


def _incidents(client, team: str):
    return client.get("/api/v1/incidents", params={"assigned_team": team})


async def test_alertmanager_fixture_groups_and_resolves(client, team) -> None:
    integration = await make_integration(client, team, "alertmanager")
    url = integration["url"]
    assert url.startswith("/api/v1/integrations/alertmanager/")
    note = fixture("alertmanager_v4_firing.json")
    response = await client.post(url, json=note)
    assert response.status_code == 200, response.text
    assert response.json()["alerts"] == 1
    again = await client.post(url, json=note)
    assert again.json()["incidents"] == response.json()["incidents"]
    (incident,) = (await _incidents(client, team)).json()
    assert incident["severity"] == "SEV1_CRITICAL", "from the severity label"
    assert incident["title"] == "BlackBox Probe Failure: https://server.example.org"
    assert incident["affected_services"] == ["http_checks"]

    # A second alert joins the group; resolving only the first leaves the incident open.
    second = copy.deepcopy(note["alerts"][0])
    second["fingerprint"] = "2b41cb82ddb0303a"
    second["labels"]["instance"] = "https://other.example.org"
    note["alerts"].append(second)
    await client.post(url, json=note)
    note["alerts"][0]["status"] = "resolved"
    await client.post(url, json=note)
    (incident,) = (await _incidents(client, team)).json()
    assert incident["status"] == "OPEN"

    note["alerts"][1]["status"] = "resolved"
    note["status"] = "resolved"
    await client.post(url, json=note)
    (incident,) = (await _incidents(client, team)).json()
    assert incident["status"] == "RESOLVED"
    alerts = (await client.get(f"/api/v1/incidents/{incident['incident_id']}/alerts")).json()
    assert len(alerts) == 1 + 1 + 2 + 2 + 2, "every alert of every notification is stored"


async def test_grafana_fixture_accepted(client, team) -> None:
    integration = await make_integration(client, team, "grafana")
    response = await client.post(integration["url"], json=fixture("grafana_webhook_v1_firing.json"))
    assert response.status_code == 200, response.text
    (incident,) = (await _incidents(client, team)).json()
    assert incident["title"] == "This alert was triggered for zone us-1"
    assert incident["severity"] == "SEV3_MEDIUM", "no severity label: the default"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"status": "weird"}, "status"),
        ({"groupKey": ""}, "groupKey"),
        ({"alerts": []}, "alerts"),
        ({"alerts": [{"status": "firing", "labels": {"a": 1}}]}, "alerts.0.labels.a"),
    ],
)
async def test_malformed_notifications_are_400_naming_the_field(
    client, team, change: dict[str, Any], field: str
) -> None:
    integration = await make_integration(client, team, "alertmanager")
    note = fixture("alertmanager_v4_firing.json") | change
    response = await client.post(integration["url"], json=note)
    assert response.status_code == 400, response.text
    assert field in [e["key"] for e in response.json()["extra"]]
    assert (await _incidents(client, team)).json() == []


async def test_unknown_key_and_wrong_kind_are_404(client, team) -> None:
    note = fixture("alertmanager_v4_firing.json")
    assert (
        await client.post("/api/v1/integrations/alertmanager/nope", json=note)
    ).status_code == 404
    grafana = await make_integration(client, team, "grafana")
    key = grafana["integration_key"]
    response = await client.post(f"/api/v1/integrations/alertmanager/{key}", json=note)
    assert response.status_code == 404


def _sign(body: bytes, secret: str, timestamp: str | None = None) -> str:
    message = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


SECRET = "grafana-shared-secret-value"


@pytest.fixture
async def signed_client(settings: Settings, client) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    signed = settings.model_copy(
        update={"integrations": IntegrationSettings(webhook_secrets={"grafana-prod": SECRET})}
    )
    async with AsyncTestClient(app=create_app(signed)) as signed_client:
        signed_client.headers.update(dict(client.headers))  # the suite's credentials, if any
        yield signed_client


def _stamped(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {
        "content-type": "application/json",
        "X-Grafana-Alert-Signature": _sign(body, secret, stamp),
        "X-Grafana-Alert-Timestamp": stamp,
    }


async def test_grafana_hmac_signature(signed_client, team) -> None:
    client = signed_client
    integration = await make_integration(
        client, team, "grafana", config={"secret_name": "grafana-prod"}
    )
    url = integration["url"]
    body = json.dumps(fixture("grafana_webhook_v1_firing.json")).encode()
    headers = {"content-type": "application/json"}
    unsigned = await client.post(url, content=body, headers=headers)
    assert unsigned.status_code == 401
    forged = await client.post(url, content=body, headers=_stamped(body, secret="x"))
    assert forged.status_code == 401
    assert SECRET not in forged.text
    good = await client.post(url, content=body, headers=_stamped(body))
    assert good.status_code == 200, good.text
    assert good.json()["status"] == "success"
    odd = _stamped(body) | {"X-Grafana-Alert-Signature": "sha256=\u00e9\u00e9".encode("latin-1")}
    assert (await client.post(url, content=body, headers=odd)).status_code == 401

    # A secret named but not configured is our fault: 5xx, so the sender retries.
    missing = await make_integration(
        client, team, "alertmanager", config={"secret_name": "not-set"}
    )
    response = await client.post(missing["url"], content=body, headers=headers)
    assert response.status_code == 503


async def test_body_only_signatures_are_refused(signed_client, team) -> None:
    """A signature of the body alone never expires: a captured one would be replayable
    for ever. With a secret, the timestamp header is required."""
    integration = await make_integration(
        signed_client, team, "grafana", config={"secret_name": "grafana-prod"}
    )
    body = json.dumps(fixture("grafana_webhook_v1_firing.json")).encode()
    headers = {"content-type": "application/json", "X-Grafana-Alert-Signature": _sign(body, SECRET)}
    response = await signed_client.post(integration["url"], content=body, headers=headers)
    assert response.status_code == 401
    assert "timestamp" in response.json()["detail"]
    assert (await _incidents(signed_client, team)).json() == []


@pytest.mark.parametrize(
    ("name", "at"),
    [
        ("2001", 978_307_200.0),
        ("stale", -330.0),
        ("future", 330.0),
        ("year 9999", 253_402_300_799.0),
    ],
)
async def test_timestamps_outside_the_window_are_refused(
    signed_client, team, name: str, at: float
) -> None:
    if abs(at) < 1e6:  # an offset from now (the window is 300 s)
        at += time.time()
    integration = await make_integration(
        signed_client, team, "grafana", config={"secret_name": "grafana-prod"}
    )
    body = json.dumps(fixture("grafana_webhook_v1_firing.json")).encode()
    response = await signed_client.post(
        integration["url"], content=body, headers=_stamped(body, at)
    )
    assert response.status_code == 401, (name, response.text)
    assert "from now" in response.json()["detail"]
    assert (await _incidents(signed_client, team)).json() == []


async def test_a_captured_resolve_replayed_changes_nothing(signed_client, team) -> None:
    """Firing, resolved (captured), firing again: the captured resolve, replayed within the
    window (later it is stale), does not resolve the re-fired incident."""
    client = signed_client
    integration = await make_integration(
        client, team, "grafana", config={"secret_name": "grafana-prod"}
    )
    url = integration["url"]
    firing = fixture("grafana_webhook_v1_firing.json")
    resolved = copy.deepcopy(firing)
    resolved["status"] = "resolved"
    for alert in resolved["alerts"]:
        alert["status"] = "resolved"
    fire_body = json.dumps(firing).encode()
    resolve_body = json.dumps(resolved).encode()

    assert (
        await client.post(url, content=fire_body, headers=_stamped(fire_body))
    ).status_code == 200
    captured = _stamped(resolve_body, time.time() - 5)
    first = await client.post(url, content=resolve_body, headers=captured)
    assert first.status_code == 200 and first.json()["status"] == "success", first.text
    refire = await client.post(url, content=fire_body, headers=_stamped(fire_body, time.time() + 1))
    assert refire.status_code == 200, refire.text
    (reopened,) = [i for i in (await _incidents(client, team)).json() if i["status"] == "OPEN"]

    replayed = await client.post(url, content=resolve_body, headers=captured)
    assert replayed.status_code == 200
    assert replayed.json() == {"status": "duplicate", "alerts": 0, "incidents": []}
    # The same signature written differently is the same request.
    prefixed = captured | {
        "X-Grafana-Alert-Signature": "sha256=" + captured["X-Grafana-Alert-Signature"]
    }
    assert (await client.post(url, content=resolve_body, headers=prefixed)).json()["status"] == (
        "duplicate"
    )
    got = await client.get(f"/api/v1/incidents/{reopened['incident_id']}")
    assert got.json()["status"] == "OPEN"


async def test_config_with_credentials_is_refused(client, team) -> None:
    response = await client.post(
        "/api/v1/integrations",
        json={"kind": "pagerduty", "team": team, "config": {"service_id": "P1", "api_token": "x"}},
    )
    assert response.status_code == 400
    assert "credentials" in response.text and '"x"' not in response.text
