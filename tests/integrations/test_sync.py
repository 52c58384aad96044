"""The outbound sync end to end: the API, a real worker running the DBOS workflows, the
real vendor clients, and the stand-ins (with faults injected)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.integrations.settings import IntegrationSettings
from testkit.databases import make_api_key, migrated_database
from testkit.worker import Worker, wait_for, worker_env
from tests.conftest import new_incident
from tests.integrations.conftest import JIRA_TOKEN, PD_SERVICE, PD_TOKEN, SECRETS, SNOW_PASSWORD

WEBHOOK_SECRET = "pd-webhook-secret-0123456789"
SYNC_CONCURRENCY = 3  # this module's worker runs at most 3 vendor syncs at once


@pytest.fixture(scope="module")
def sync_database_url(server_url: str) -> Iterator[str]:
    """This module's own database: its worker runs every workflow of the database it is
    given, and the suite's shared one holds a backlog of other tests' incidents (their
    responses and escalations) that would delay the syncs these tests time."""
    with migrated_database(server_url, "incident_sync_test") as url:
        yield url


@pytest.fixture(scope="module")
def worker(
    sync_database_url, pagerduty, jira, servicenow, ca, tmp_path_factory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = worker_env(
        sync_database_url,
        WORKFLOW_QUEUE_POLLING_S="0.05",
        INTEGRATIONS_SYNC_POLL_INTERVAL_S="0.2",
        INTEGRATIONS_SYNC_BACKOFF_BASE_S="0.2",
        INTEGRATIONS_SYNC_BACKOFF_MAX_S="2",
        INTEGRATIONS_SYNC_MAX_ATTEMPTS="8",
        **{
            "INTEGRATIONS_PAGERDUTY_API_URL": pagerduty.url,
            "INTEGRATIONS_PAGERDUTY_TOKEN": PD_TOKEN,
            "INTEGRATIONS_PAGERDUTY_FROM": "bot@example.com",
            "INTEGRATIONS_JIRA_URL": jira.url,
            "INTEGRATIONS_JIRA_USER": "bot@example.com",
            "INTEGRATIONS_JIRA_TOKEN": JIRA_TOKEN,
            "INTEGRATIONS_SERVICENOW_URL": servicenow.url,
            "INTEGRATIONS_SERVICENOW_USER": "bot",
            "INTEGRATIONS_SERVICENOW_PASSWORD": SNOW_PASSWORD,
            "INTEGRATIONS_CA_BUNDLE": str(ca[1]),
            "INTEGRATIONS_HTTP_TIMEOUT_S": "1.5",
            "INTEGRATION_SYNC_CONCURRENCY": str(SYNC_CONCURRENCY),
        },
    )
    running = Worker(env, log, args=["--no-relay"]).start().wait_ready()
    yield running
    running.stop()
    text = log.read_text(errors="replace")
    for secret in SECRETS:
        assert secret not in text, "a credential reached the worker's log"


@pytest.fixture(scope="module")
async def api(settings: Settings, sync_database_url: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    with_secret = settings.model_copy(
        update={
            "database_url": sync_database_url,
            "integrations": IntegrationSettings(pagerduty_webhook_secret=SecretStr(WEBHOOK_SECRET)),
        }
    )
    key = make_api_key(sync_database_url, name="sync-admin", scopes=["admin"], rate_limit=100_000)
    async with AsyncTestClient(app=create_app(with_secret)) as api_client:
        api_client.headers.update({"Authorization": f"Bearer {key}"})
        yield api_client


async def _integrations(api, team: str, severities: list[str] | None = None) -> dict[str, str]:
    configs = {
        "pagerduty": {"service_id": PD_SERVICE},
        "jira": {"project": "OPS", "issue_type": "Incident"},
        "servicenow": {"close_code": "Solved (Permanently)"},
    }
    ids = {}
    for kind, config in configs.items():
        body = {"kind": kind, "team": team, "config": config, "severities": severities or []}
        response = await api.post("/api/v1/integrations", json=body)
        assert response.status_code == 201, response.text
        ids[kind] = response.json()["integration_id"]
    return ids


async def _open(api, team: str, **overrides: Any) -> str:
    response = await api.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["incident_id"])


async def _move(api, incident_id: str, status: str, note: str | None = None) -> None:
    body = {"status": status, "actor": "alice", **({"note": note} if note else {})}
    response = await api.put(f"/api/v1/incidents/{incident_id}/status", json=body)
    assert response.status_code == 200, response.text


async def _state(api, incident_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await api.get(f"/api/v1/incidents/{incident_id}/integrations")).json()
    return body


async def _settled(api, incident_id: str, expected_syncs: int) -> dict[str, Any]:
    state = await _finished(api, incident_id, expected_syncs)
    assert {s["status"] for s in state["syncs"]} <= {"succeeded", "skipped"}, state
    return state


async def _finished(api, incident_id: str, expected_syncs: int) -> dict[str, Any]:
    """Wait until every sync of the incident has finished; its state."""
    seen: dict[str, Any] = {}

    async def done() -> bool:
        seen.update(await _state(api, incident_id))
        finished = [s for s in seen["syncs"] if s["status"] in ("succeeded", "failed", "skipped")]
        return len(seen["syncs"]) >= expected_syncs and len(finished) == len(seen["syncs"])

    assert await wait_for(done, within=40.0, interval=0.2), "timed out waiting"
    return seen


def _pd(pagerduty, incident_id: str) -> list[dict[str, Any]]:
    return [i for i in pagerduty.incidents.values() if i["incident_key"] == incident_id]


def _jira(jira, incident_id: str) -> list[dict[str, Any]]:
    return [i for i in jira.issues.values() if f"ims-{incident_id}" in i["fields"]["labels"]]


def _snow(servicenow, incident_id: str) -> list[dict[str, Any]]:
    return [r for r in servicenow.records.values() if r["correlation_id"] == incident_id]


async def test_create_ack_resolve_close_mirrored_once(
    worker, api, team, pagerduty, jira, servicenow
) -> None:
    await _integrations(api, team)
    incident_id = await _open(api, team, severity="SEV1_CRITICAL")
    state = await _settled(api, incident_id, 3)
    assert {s["status"] for s in state["syncs"]} == {"succeeded"}
    assert sorted(link["system"] for link in state["links"]) == ["jira", "pagerduty", "servicenow"]
    got = (await api.get(f"/api/v1/incidents/{incident_id}")).json()
    assert sorted(link["system"] for link in got["integration_links"]) == [
        "jira",
        "pagerduty",
        "servicenow",
    ]
    (pd,) = _pd(pagerduty, incident_id)
    (issue,) = _jira(jira, incident_id)
    (record,) = _snow(servicenow, incident_id)
    assert pd["status"] == "triggered" and record["state"] == "1"
    assert (record["impact"], record["urgency"]) == ("1", "1")

    await _move(api, incident_id, "ACKNOWLEDGED")
    await _settled(api, incident_id, 6)
    assert pd["status"] == "acknowledged" and record["state"] == "2"
    assert len(jira.comments_of(issue["key"])) == 1

    await _move(api, incident_id, "RESOLVED", note="rolled back the deploy")
    await _settled(api, incident_id, 9)
    assert pd["status"] == "resolved"
    assert [n["content"] for n in pagerduty.notes[pd["id"]]][-1].endswith("rolled back the deploy")
    assert record["state"] == "6" and record["close_notes"] == "rolled back the deploy"
    assert issue["status"] == "10001", "Jira issue transitioned to Done"

    await _move(api, incident_id, "CLOSED")
    await _settled(api, incident_id, 12)
    assert record["state"] == "7"
    assert (
        len(_pd(pagerduty, incident_id)),
        len(_jira(jira, incident_id)),
        len(_snow(servicenow, incident_id)),
    ) == (1, 1, 1)
    timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    assert [e["kind"] for e in timeline].count("integration_linked") == 3
    assert pagerduty.spec_errors == []


async def test_severity_routing(worker, api, team, pagerduty) -> None:
    await _integrations(api, team, severities=["SEV1_CRITICAL"])
    low = await _open(api, team, severity="SEV4_LOW")
    high = await _open(api, team, severity="SEV1_CRITICAL")
    await _settled(api, high, 3)
    assert (await _state(api, low))["syncs"] == []
    assert _pd(pagerduty, low) == []


async def test_vendors_down_for_a_while_then_back_no_duplicates(
    worker, api, team, pagerduty, jira, servicenow
) -> None:
    await _integrations(api, team)
    # PagerDuty: 5xx three times. ServiceNow: rate limited twice, with Retry-After.
    # Jira: the create succeeds but its answer never comes (the client times out).
    pagerduty.fail("POST", "/incidents", 503, times=3)
    servicenow.fail("POST", "/api/now/table/incident", 429, times=2, retry_after=1)
    jira.fail("POST", "/rest/api/2/issue", hang_s=2.5, after=True, times=1)
    incident_id = await _open(api, team, severity="SEV2_HIGH")
    state = await _settled(api, incident_id, 3)
    assert {s["status"] for s in state["syncs"]} == {"succeeded"}, state
    attempts = {s["system"]: s["attempts"] for s in state["syncs"]}
    assert attempts["pagerduty"] >= 4 and attempts["servicenow"] >= 3 and attempts["jira"] >= 2
    assert len(_pd(pagerduty, incident_id)) == 1
    assert len(_jira(jira, incident_id)) == 1, "the lost answer did not make a second issue"
    assert len(_snow(servicenow, incident_id)) == 1
    waits = [c.at for c in servicenow.requests("POST", "/api/now/table/incident")][-3:]
    assert waits[2] - waits[1] >= 0.9, "Retry-After honoured"


async def test_bad_credentials_fail_once_with_a_clear_error(worker, api, team, pagerduty) -> None:
    body = {"kind": "pagerduty", "team": team, "config": {"service_id": PD_SERVICE}}
    assert (await api.post("/api/v1/integrations", json=body)).status_code == 201
    before = len(pagerduty.requests())
    pagerduty.fail("GET", "/incidents", 401, times=50)
    incident_id = await _open(api, team)
    state = await _finished(api, incident_id, 1)
    (sync,) = state["syncs"]
    assert sync["status"] == "failed" and sync["attempts"] == 1
    assert "401" in sync["last_error"]
    assert len(pagerduty.requests()) - before == 1, "no retry storm"
    timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    failed = [e for e in timeline if e["kind"] == "integration_failed"]
    assert len(failed) == 1 and "401" in failed[0]["note"]
    assert PD_TOKEN not in json.dumps(timeline) + json.dumps(state)


def _signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event": event}).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "content-type": "application/json",
        "X-PagerDuty-Signature": f"v1=bogus,v1={signature}",
    }


def _webhook(event_type: str, remote: dict[str, Any]) -> dict[str, Any]:
    """A fresh event (its own id, occurred now), as PagerDuty sends each one."""
    return {
        "id": "01" + secrets.token_hex(12).upper(),
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "agent": {"id": "PUSER01", "type": "user_reference", "summary": "Bob"},
        "data": {
            "id": remote["id"],
            "type": "incident",
            "status": remote["status"],
            "incident_key": remote["incident_key"],
        },
    }


async def test_pagerduty_webhooks_move_ours_and_echoes_do_not_loop(
    worker, api, team, pagerduty
) -> None:
    body = {"kind": "pagerduty", "team": team, "config": {"service_id": PD_SERVICE}}
    assert (await api.post("/api/v1/integrations", json=body)).status_code == 201
    incident_id = await _open(api, team)
    await _settled(api, incident_id, 1)
    (remote,) = _pd(pagerduty, incident_id)

    # Bob acknowledges in PagerDuty: ours follows, and nothing is pushed back.
    remote["status"] = "acknowledged"
    raw, headers = _signed(_webhook("incident.acknowledged", remote))
    response = await api.post(
        "/api/v1/integrations/pagerduty/webhook", content=raw, headers=headers
    )
    assert response.json() == {"status": "applied"}
    assert (await api.get(f"/api/v1/incidents/{incident_id}")).json()["status"] == "ACKNOWLEDGED"
    state = await _settled(api, incident_id, 2)
    assert sorted(s["status"] for s in state["syncs"]) == ["skipped", "succeeded"]
    puts = len(pagerduty.requests("PUT"))

    # We resolve here: pushed to PagerDuty, whose webhook echoes it: recognised.
    await _move(api, incident_id, "RESOLVED")
    await _settled(api, incident_id, 3)
    assert remote["status"] == "resolved" and len(pagerduty.requests("PUT")) == puts + 1
    raw, headers = _signed(_webhook("incident.resolved", remote))
    response = await api.post(
        "/api/v1/integrations/pagerduty/webhook", content=raw, headers=headers
    )
    assert response.json() == {"status": "echo"}
    timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    assert [e["to_status"] for e in timeline if e["kind"] == "status_changed"] == [
        "ACKNOWLEDGED",
        "RESOLVED",
    ]

    forged = dict(headers, **{"X-PagerDuty-Signature": "v1=00"})
    response = await api.post("/api/v1/integrations/pagerduty/webhook", content=raw, headers=forged)
    assert response.status_code == 401


async def test_many_incidents_under_random_faults_make_one_record_each(
    worker, api, team, pagerduty, jira, servicenow
) -> None:
    """The closing figure: remote records after a run with faults injected everywhere."""
    await _integrations(api, team)
    count = 8
    pagerduty.fail("POST", "/incidents", 503, times=4)
    pagerduty.fail("GET", "/incidents", 429, times=3, retry_after=0.5)
    jira.fail("POST", "/rest/api/2/issue", hang_s=2.0, after=True, times=2)
    jira.fail("GET", "/rest/api/2/search", 502, times=3)
    servicenow.fail("POST", "/api/now/table/incident", 500, times=3)
    servicenow.fail("GET", "/api/now/table/incident", hang_s=2.0, times=2)
    ids = [await _open(api, team, severity="SEV2_HIGH") for _ in range(count)]
    for incident_id in ids:
        state = await _settled(api, incident_id, 3)
        assert {s["status"] for s in state["syncs"]} == {"succeeded"}, state
    records = {
        "pagerduty": sum(len(_pd(pagerduty, i)) for i in ids),
        "jira": sum(len(_jira(jira, i)) for i in ids),
        "servicenow": sum(len(_snow(servicenow, i)) for i in ids),
    }
    print(f"\nremote records after {count} incidents with injected faults: {records}")
    assert records == {"pagerduty": count, "jira": count, "servicenow": count}


async def test_vendor_syncs_run_at_most_the_configured_number_at_once(
    worker, api, team, pagerduty, jira, servicenow
) -> None:
    """A burst of incidents is spread out: one worker calls the vendors at most
    INTEGRATION_SYNC_CONCURRENCY syncs at a time (each vendor rate-limits)."""
    await _integrations(api, team)
    creates = (
        (pagerduty, "/incidents"),
        (jira, "/rest/api/2/issue"),
        (servicenow, "/api/now/table/incident"),
    )
    for vendor, path in creates:  # each create is answered 0.4 s after it is done
        vendor.fail("POST", path, hang_s=0.4, after=True, times=100)
    since = time.monotonic()
    ids = [await _open(api, team, severity="SEV2_HIGH") for _ in range(6)]
    for incident_id in ids:
        await _settled(api, incident_id, 3)
    calls = [
        c
        for vendor, path in creates
        for c in vendor.requests("POST", path)
        if c.answered_at is not None and c.at >= since
    ]
    assert len(calls) >= 18, len(calls)
    edges = sorted([(c.at, 1) for c in calls] + [(c.answered_at or c.at, -1) for c in calls])
    in_flight = peak = 0
    for _, step in edges:
        in_flight += step
        peak = max(peak, in_flight)
    # Without the bound all 18 creates would overlap (6 incidents x 3 vendors at once).
    assert 2 <= peak <= SYNC_CONCURRENCY, peak
