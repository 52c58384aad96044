"""PagerDuty v3 webhooks in: each event id is applied once, and only while it is fresh."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.integrations.settings import IntegrationSettings
from tests.conftest import new_incident
from tests.integrations.conftest import PD_SERVICE

SECRET = "pd-webhook-secret-for-replays"
URL = "/api/v1/integrations/pagerduty/webhook"


@pytest.fixture(scope="module")
async def api(settings: Settings, client) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    with_secret = settings.model_copy(
        update={"integrations": IntegrationSettings(pagerduty_webhook_secret=SecretStr(SECRET))}
    )
    async with AsyncTestClient(app=create_app(with_secret)) as api_client:
        api_client.headers.update(client.headers)
        yield api_client


def _signed(raw: bytes) -> dict[str, str]:
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "X-PagerDuty-Signature": f"v1={signature}"}


def _event(remote_id: str, event_type: str, status: str, **changes: Any) -> bytes:
    event = {
        "id": "01" + secrets.token_hex(12).upper(),
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": datetime.now(UTC).isoformat(),
        "agent": {"id": "PUSER01", "type": "user_reference", "summary": "Bob"},
        "data": {"id": remote_id, "type": "incident", "status": status},
    } | changes
    return json.dumps({"event": event}).encode()


async def _linked_incident(api, team: str, database_url: str) -> tuple[str, str]:
    """An incident of ours linked to a PagerDuty incident (as the outbound sync links)."""
    created = await api.post(
        "/api/v1/integrations",
        json={"kind": "pagerduty", "team": team, "config": {"service_id": PD_SERVICE}},
    )
    incident = await api.post("/api/v1/incidents", json=new_incident(team))
    incident_id = incident.json()["incident_id"]
    remote_id = "Q" + secrets.token_hex(6).upper()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "insert into integration_links (incident_id, integration_id, system, remote_id,"
            " remote_status) values (%s, %s, 'pagerduty', %s, 'triggered')",
            (incident_id, created.json()["integration_id"], remote_id),
        )
    return incident_id, remote_id


async def _status_changes(api, incident_id: str) -> list[str]:
    timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    return [e["to_status"] for e in timeline if e["kind"] == "status_changed"]


async def test_an_event_id_is_applied_once(api, team, database_url) -> None:
    incident_id, remote_id = await _linked_incident(api, team, database_url)
    raw = _event(remote_id, "incident.acknowledged", "acknowledged")
    first = await api.post(URL, content=raw, headers=_signed(raw))
    assert first.json() == {"status": "applied"}, first.text
    # Back in triggered remotely (as after a re-trigger): a replayed acknowledge would apply.
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "update integration_links set remote_status = 'triggered' where remote_id = %s",
            (remote_id,),
        )
    await api.put(f"/api/v1/incidents/{incident_id}/status", json={"status": "INVESTIGATING"})
    replayed = await api.post(URL, content=raw, headers=_signed(raw))
    assert replayed.status_code == 200
    assert replayed.json() == {"status": "duplicate"}
    assert await _status_changes(api, incident_id) == ["ACKNOWLEDGED", "INVESTIGATING"]


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("2001", datetime(2001, 1, 1, tzinfo=UTC) - datetime.now(UTC)),
        ("stale", timedelta(seconds=-330)),
        ("future", timedelta(seconds=330)),
    ],
)
async def test_events_outside_the_window_are_refused(
    api, team, database_url, name: str, offset: timedelta
) -> None:
    incident_id, remote_id = await _linked_incident(api, team, database_url)
    at = (datetime.now(UTC) + offset).isoformat()
    raw = _event(remote_id, "incident.resolved", "resolved", occurred_at=at)
    response = await api.post(URL, content=raw, headers=_signed(raw))
    assert response.status_code == 401, (name, response.text)
    assert await _status_changes(api, incident_id) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": None}, "event.id"),
        ({"id": 7}, "event.id"),
        ({"occurred_at": None}, "event.occurred_at"),
        ({"occurred_at": "yesterday"}, "event.occurred_at"),
        ({"occurred_at": "2026-12-04T10:00:00"}, "event.occurred_at"),  # no offset
    ],
)
async def test_events_without_id_or_time_are_400(api, changes: dict[str, Any], field: str) -> None:
    raw = _event("QNONE", "incident.resolved", "resolved", **changes)
    response = await api.post(URL, content=raw, headers=_signed(raw))
    assert response.status_code == 400, response.text
    assert [e["key"] for e in response.json()["extra"]] == [field]


async def test_hostile_bodies_are_400(api) -> None:
    good = _event("QNONE", "incident.resolved", "resolved").decode()
    for raw in (
        good.replace('"QNONE"', '"\\ud800"').encode(),
        good.encode().replace(b'"QNONE"', b'"\xed\xa0\x80"'),
        good.replace('"resolved"', "NaN", 1).encode(),
        b"[1, 2]",
    ):
        response = await api.post(URL, content=raw, headers=_signed(raw))
        assert response.status_code == 400, (raw, response.text)
