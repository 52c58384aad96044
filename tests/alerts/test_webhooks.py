"""Alertmanager v4 and Grafana v1 webhooks, with and without HMAC signatures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
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


async def test_grafana_hmac_signature(settings: Settings, team, client) -> None:
    secret = "grafana-shared-secret-value"
    signed = settings.model_copy(
        update={"integrations": IntegrationSettings(webhook_secrets={"grafana-prod": secret})}
    )
    suite_headers = dict(client.headers)
    async with AsyncTestClient(app=create_app(signed)) as client:
        client.headers.update(suite_headers)  # the suite's credentials, if any
        integration = await make_integration(
            client, team, "grafana", config={"secret_name": "grafana-prod"}
        )
        url = integration["url"]
        body = json.dumps(fixture("grafana_webhook_v1_firing.json")).encode()
        headers = {"content-type": "application/json"}
        unsigned = await client.post(url, content=body, headers=headers)
        assert unsigned.status_code == 401
        forged = await client.post(
            url, content=body, headers=headers | {"X-Grafana-Alert-Signature": _sign(body, "x")}
        )
        assert forged.status_code == 401
        assert secret not in forged.text
        good = await client.post(
            url, content=body, headers=headers | {"X-Grafana-Alert-Signature": _sign(body, secret)}
        )
        assert good.status_code == 200, good.text
        stamped = await client.post(
            url,
            content=body,
            headers=headers
            | {
                "X-Grafana-Alert-Signature": _sign(body, secret, "1700000000"),
                "X-Grafana-Alert-Timestamp": "1700000000",
            },
        )
        assert stamped.status_code == 200

        # A secret named but not configured is our fault: 5xx, so the sender retries.
        missing = await make_integration(
            client, team, "alertmanager", config={"secret_name": "not-set"}
        )
        response = await client.post(missing["url"], content=body, headers=headers)
        assert response.status_code == 503


async def test_config_with_credentials_is_refused(client, team) -> None:
    response = await client.post(
        "/api/v1/integrations",
        json={"kind": "pagerduty", "team": team, "config": {"service_id": "P1", "api_token": "x"}},
    )
    assert response.status_code == 400
    assert "credentials" in response.text and '"x"' not in response.text
