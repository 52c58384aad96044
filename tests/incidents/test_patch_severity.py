"""A severity change by PATCH: the incident is re-scored, and the response policies are asked
again (the shipped file: SEV1/SEV2 page the on-call and post to the webhook)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from tests.conftest import new_incident
from tests.predictions.conftest import activate, fixed_artifact


@pytest.fixture
async def scored_client(
    settings: Settings, admin_headers: dict[str, str], database_url: str
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The app with a model of its own active (P(SEV1) about 0.87, whatever the incident)."""
    import secrets

    name = f"test-model-{secrets.token_hex(4)}"
    activate(database_url, name, fixed_artifact([3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0]))
    app = create_app(settings.model_copy(update={"serving_model_name": name}))
    async with AsyncTestClient(app=app) as client:
        client.headers.update(admin_headers)
        yield client


def _rows(database_url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


async def test_a_severity_change_rescores(scored_client, database_url, team) -> None:
    created = await scored_client.post("/api/v1/incidents", json=new_incident(team))
    iid = created.json()["incident_id"]
    assert created.json()["predictions"]["trigger"] == "created"
    edited = await scored_client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV3_MEDIUM"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["predictions"]["trigger"] == "severity_changed"
    # Another field leaves the predictions as they were.
    retitled = await scored_client.patch(f"/api/v1/incidents/{iid}", json={"title": "renamed"})
    assert retitled.json()["predictions"] == edited.json()["predictions"]
    triggers = _rows(
        database_url,
        "select trigger from incident_predictions where incident_id = %s order by id",
        iid,
    )
    assert [t for (t,) in triggers] == ["created", "severity_changed"]


async def test_a_raise_to_sev1_starts_the_responses_it_lacks(client, database_url, team) -> None:
    created = await client.post("/api/v1/incidents", json=new_incident(team, severity="SEV4_LOW"))
    iid = created.json()["incident_id"]
    before = await client.get(f"/api/v1/incidents/{iid}/responses")
    assert before.json()["responses"] == []
    raised = await client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV1_CRITICAL"})
    assert raised.status_code == 200, raised.text
    answer = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()
    started = [(r["action_type"], r["execution_status"]) for r in answer["responses"]]
    # page-on-critical, and scale-latency (the title says "Latency").
    assert started == [
        ("page_oncall", "pending"),
        ("notify_webhook", "pending"),
        ("scale_up_service", "pending"),
        ("create_ticket", "pending"),
    ]
    assert answer["inputs"]["incident"]["severity"] == "SEV1_CRITICAL"
    assert {m["policy"] for m in answer["matched"]} == {"page-on-critical", "scale-latency"}
    inbox = _rows(
        database_url,
        "select kind, workflow_id, args from workflow_inbox where incident_id = %s order by id",
        iid,
    )
    assert inbox[-1][0] == "response_retry" and inbox[-1][1] == f"responses-{iid}-v2"
    assert inbox[-1][2]["response_ids"] == [f"{iid}-R{n}" for n in (1, 2, 3, 4)]

    # Down and up again: the policies choose the same actions, already there: none is added,
    # no workflow is started.
    await client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV2_HIGH"})
    await client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV1_CRITICAL"})
    again = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    assert len(again) == 4
    kinds = _rows(
        database_url,
        "select kind from workflow_inbox where incident_id = %s and kind = 'response_retry'",
        iid,
    )
    assert len(kinds) == 1


async def test_created_responses_are_not_duplicated(client, team) -> None:
    body = new_incident(team, severity="SEV2_HIGH")
    iid = (await client.post("/api/v1/incidents", json=body)).json()["incident_id"]
    first = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    assert {r["action_type"] for r in first} >= {"page_oncall", "notify_webhook"}
    await client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV1_CRITICAL"})
    after = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    assert [r["response_id"] for r in after] == [r["response_id"] for r in first]


async def test_a_raise_to_sev1_starts_the_escalation_when_the_team_has_a_policy(
    client, database_url, team
) -> None:
    policy = await client.post(
        "/api/v1/escalation-policies",
        json={
            "team": team,
            "name": f"{team} policy",
            "levels": [{"delay_minutes": 5, "targets": [{"type": "person", "id": "ops"}]}],
        },
    )
    assert policy.status_code == 201, policy.text
    body = new_incident(team, severity="SEV4_LOW", title="disk almost full")
    iid = (await client.post("/api/v1/incidents", json=body)).json()["incident_id"]
    await client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV1_CRITICAL"})
    kinds = _rows(
        database_url,
        "select kind, workflow_id from workflow_inbox where incident_id = %s order by id",
        iid,
    )
    assert ("escalation_start", f"escalation-{iid}") in kinds


async def test_a_resolved_incident_starts_nothing(client, team) -> None:
    body = new_incident(team, severity="SEV4_LOW")
    iid = (await client.post("/api/v1/incidents", json=body)).json()["incident_id"]
    await client.put(f"/api/v1/incidents/{iid}/status", json={"status": "RESOLVED"})
    raised = await client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV1_CRITICAL"})
    assert raised.status_code == 200 and raised.json()["severity"] == "SEV1_CRITICAL"
    assert (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"] == []
