"""The integration API itself: creation rules, listing, lookups, and what it never shows."""

from __future__ import annotations

import uuid

from tests.integrations.conftest import PD_SERVICE


async def test_outbound_integration_needs_its_options(client, team) -> None:
    for kind, config, missing in (
        ("pagerduty", {}, "service_id"),
        ("jira", {"issue_type": "Bug"}, "project"),
    ):
        response = await client.post(
            "/api/v1/integrations", json={"kind": kind, "team": team, "config": config}
        )
        assert response.status_code == 400 and missing in response.text
    response = await client.post(
        "/api/v1/integrations",
        json={"kind": "events-v2", "team": team, "config": {"severity_map": {"critical": "P1"}}},
    )
    assert response.status_code == 400 and "severity_map" in response.text
    response = await client.post("/api/v1/integrations", json={"kind": "fax", "team": team})
    assert response.status_code == 400


async def test_create_get_list(client, team) -> None:
    body = {
        "kind": "pagerduty",
        "team": team,
        "severities": ["SEV1_CRITICAL"],
        "config": {"service_id": PD_SERVICE},
    }
    created = await client.post("/api/v1/integrations", json=body)
    assert created.status_code == 201, created.text
    integration = created.json()
    assert integration["integration_key"] is None, "outbound integrations have no key"
    assert created.headers["location"].endswith(integration["integration_id"])
    got = await client.get(f"/api/v1/integrations/{integration['integration_id']}")
    assert got.json()["config"] == {"service_id": PD_SERVICE}
    listed = (await client.get("/api/v1/integrations", params={"team": team})).json()
    assert [i["integration_id"] for i in listed] == [integration["integration_id"]]
    assert (await client.get(f"/api/v1/integrations/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/api/v1/incidents/INC-00000000-000/integrations")).status_code == 404
    syncs = await client.get("/api/v1/integrations/syncs", params={"status": "failed", "limit": 5})
    assert syncs.status_code == 200 and isinstance(syncs.json(), list)


async def test_openapi_document_shows_no_credentials(client) -> None:
    document = (await client.get("/docs/openapi.json")).text
    assert "/v2/enqueue" in document and "/api/v1/integrations/pagerduty/webhook" in document
    for name in ("pagerduty_token", "jira_token", "servicenow_password", "webhook_secrets"):
        assert name not in document
