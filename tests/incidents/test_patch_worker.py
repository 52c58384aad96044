"""A raise to SEV1 by PATCH, end to end: the worker runs the responses it started."""

from __future__ import annotations

import asyncio

from tests.conftest import new_incident
from tests.responses import conftest as workflow_fixtures

# The workflow tests' fixtures (their database, the app on it, the stand-ins, a worker).
standin = workflow_fixtures.standin
wf_database_url = workflow_fixtures.wf_database_url
wf_settings = workflow_fixtures.wf_settings
wf_key = workflow_fixtures.wf_key
wf_client = workflow_fixtures.wf_client
worker = workflow_fixtures.worker


async def test_the_worker_runs_the_responses_a_raise_started(wf_client, worker, standin, team):
    body = new_incident(team, severity="SEV4_LOW")
    iid = (await wf_client.post("/api/v1/incidents", json=body)).json()["incident_id"]
    raised = await wf_client.patch(f"/api/v1/incidents/{iid}", json={"severity": "SEV1_CRITICAL"})
    assert raised.status_code == 200, raised.text

    async def responses() -> list[dict]:
        answer = await wf_client.get(f"/api/v1/incidents/{iid}/responses")
        return list(answer.json()["responses"])

    for _ in range(300):
        current = await responses()
        if current and all(
            r["execution_status"] not in ("pending", "in_progress") for r in current
        ):
            break
        await asyncio.sleep(0.1)
    # The team has no escalation policy: paging fails for good (and says why); the others run.
    assert [(r["action_type"], r["execution_status"]) for r in current] == [
        ("page_oncall", "failed"),
        ("notify_webhook", "succeeded"),
        ("scale_up_service", "succeeded"),
        ("create_ticket", "succeeded"),
    ], current
    scaled = [r for r in standin.by_path("/automation/scale_up_service") if iid in (r.key or "")]
    assert [r.key for r in scaled] == [f"{iid}-R3"]
