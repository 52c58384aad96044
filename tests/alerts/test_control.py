"""Cutting off a leaked routing key (disable, enable, rotate: API and CLI, each recorded
with who did it), and the per-integration intake rate limit shared by every replica."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import psycopg
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.integrations.settings import IntegrationSettings
from testkit.databases import make_api_key
from tests.alerts.conftest import fixture, make_integration
from tests.alerts.test_cli import _run


def _trigger(key: str, dedup_key: str = "k") -> dict[str, Any]:
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "disk full", "source": "h", "severity": "error"},
    }


def _audit(database_url: str, integration_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select action, actor from integration_audit where integration_id = %s order by id",
            (integration_id,),
        ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


async def test_disable_enable_and_rotate_through_the_api(client, team, database_url) -> None:
    key = make_api_key(
        database_url, name="ops lead", scopes=["config:write"], team=team, rate_limit=100_000
    )
    headers = {"Authorization": f"Bearer {key}"}
    integration = await make_integration(client, team, "events-v2")
    old_key = integration["integration_key"]
    base = f"/api/v1/integrations/{integration['integration_id']}"
    assert (await client.post("/v2/enqueue", json=_trigger(old_key))).status_code == 202

    disabled = await client.post(f"{base}/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    refused = await client.post("/v2/enqueue", json=_trigger(old_key))
    unknown = await client.post("/v2/enqueue", json=_trigger("f" * 32))
    assert refused.status_code == 400
    assert refused.json() == unknown.json(), "answered as for an unknown routing key"

    enabled = await client.post(f"{base}/enable", headers=headers)
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    assert (await client.post("/v2/enqueue", json=_trigger(old_key))).status_code == 202

    rotated = await client.post(f"{base}/rotate-key", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["integration_key"]
    assert re.fullmatch("[0-9a-f]{32}", new_key) and new_key != old_key
    assert rotated.json()["key_prefix"] == new_key[:6]
    assert (await client.post("/v2/enqueue", json=_trigger(old_key))).status_code == 400
    assert (await client.post("/v2/enqueue", json=_trigger(new_key))).status_code == 202
    shown = await client.get(base)
    assert new_key not in shown.text and shown.json()["integration_key"] is None

    # Read-only keys cannot; outbound integrations have no key to rotate.
    reader = make_api_key(database_url, name="reader", scopes=["incidents:read"], team=team)
    denied = await client.post(f"{base}/disable", headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403
    outbound = await client.post(
        "/api/v1/integrations",
        json={"kind": "pagerduty", "team": team, "config": {"service_id": "PSVC001"}},
    )
    no_key = await client.post(
        f"/api/v1/integrations/{outbound.json()['integration_id']}/rotate-key"
    )
    assert no_key.status_code == 409

    assert _audit(database_url, integration["integration_id"]) == [
        ("created", "test-admin"),
        ("disabled", "ops lead"),
        ("enabled", "ops lead"),
        ("key_rotated", "ops lead"),
    ]


async def test_disable_enable_and_rotate_from_the_cli(client, team, database_url) -> None:
    integration = await make_integration(client, team, "alertmanager")
    integration_id = integration["integration_id"]
    note = fixture("alertmanager_v4_firing.json")

    disabled = _run(database_url, "disable", integration_id)
    assert disabled.returncode == 0, disabled.stderr
    assert "disabled" in disabled.stdout
    assert (await client.post(integration["url"], json=note)).status_code == 404
    assert _run(database_url, "enable", integration_id).returncode == 0
    assert (await client.post(integration["url"], json=note)).status_code == 200

    rotated = _run(database_url, "rotate", integration_id)
    assert rotated.returncode == 0, rotated.stderr
    found = re.search(r"integration key: ([0-9a-f]{32})", rotated.stdout)
    assert found is not None, rotated.stdout
    assert f"/api/v1/integrations/alertmanager/{found.group(1)}" in rotated.stdout
    assert (await client.post(integration["url"], json=note)).status_code == 404
    new_url = f"/api/v1/integrations/alertmanager/{found.group(1)}"
    assert (await client.post(new_url, json=note)).status_code == 200

    missing = _run(database_url, "disable", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert _run(database_url, "disable", "nope").returncode == 2
    actions = [a for a, _ in _audit(database_url, integration_id)]
    assert actions == ["created", "disabled", "enabled", "key_rotated"]
    assert all(actor.startswith("cli") for _, actor in _audit(database_url, integration_id)[1:])


async def test_intake_is_rate_limited_per_integration(client, team) -> None:
    integration = await make_integration(
        client, team, "events-v2", rate_limit_per_min=60, rate_limit_burst=3
    )
    key = integration["integration_key"]
    answers = [await client.post("/v2/enqueue", json=_trigger(key, f"k{i}")) for i in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    throttled = answers[-1]
    assert throttled.json()["status"] == "throttle event"
    assert 1 <= int(throttled.headers["retry-after"]) <= 2
    # Another integration of the same team has its own bucket.
    other = await make_integration(client, team, "events-v2")
    assert (
        await client.post("/v2/enqueue", json=_trigger(other["integration_key"]))
    ).status_code == 202
    # One token a second comes back.
    await asyncio.sleep(1.1)
    assert (await client.post("/v2/enqueue", json=_trigger(key, "later"))).status_code == 202

    # Raising the limit applies at once.
    url = f"/api/v1/integrations/{integration['integration_id']}"
    raised = await client.put(
        url, json={"name": "raised", "rate_limit_per_min": 6000, "rate_limit_burst": 50}
    )
    assert raised.status_code == 200 and raised.json()["rate_limit_burst"] == 50
    await asyncio.sleep(0.2)
    assert (await client.post("/v2/enqueue", json=_trigger(key, "after"))).status_code == 202


async def test_webhooks_are_rate_limited_with_retry_after(client, team) -> None:
    integration = await make_integration(
        client, team, "alertmanager", rate_limit_per_min=1, rate_limit_burst=1
    )
    note = fixture("alertmanager_v4_firing.json")
    assert (await client.post(integration["url"], json=note)).status_code == 200
    throttled = await client.post(integration["url"], json=note)
    assert throttled.status_code == 429
    assert 50 <= int(throttled.headers["retry-after"]) <= 60


async def test_the_limit_is_shared_by_every_replica(settings: Settings, client, team) -> None:
    """Two API processes on one database draw from one bucket."""
    integration = await make_integration(
        client, team, "events-v2", rate_limit_per_min=1, rate_limit_burst=4
    )
    key = integration["integration_key"]
    async with AsyncTestClient(app=create_app(settings)) as second:
        statuses = []
        for i in range(6):
            replica = client if i % 2 == 0 else second
            answer = await replica.post("/v2/enqueue", json=_trigger(key, f"r{i}"))
            statuses.append(answer.status_code)
    assert statuses == [202, 202, 202, 202, 429, 429]


async def test_the_default_limit_holds_a_flood(settings: Settings, client, team) -> None:
    """With no limit of its own an integration gets the server's: a flood is cut to it."""
    limited = settings.model_copy(
        update={"integrations": IntegrationSettings(intake_rate_per_min=60, intake_burst=20)}
    )
    integration = await make_integration(client, team, "events-v2")
    key = integration["integration_key"]
    started = time.monotonic()
    async with AsyncTestClient(app=create_app(limited)) as app_client:
        answers = await asyncio.gather(
            *(app_client.post("/v2/enqueue", json=_trigger(key, f"f{i % 5}")) for i in range(60))
        )
    elapsed = time.monotonic() - started
    accepted = sum(1 for a in answers if a.status_code == 202)
    assert {a.status_code for a in answers} == {202, 429}
    assert 20 <= accepted <= 20 + int(elapsed) + 1, (accepted, elapsed)
