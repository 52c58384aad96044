"""An incident opens; the worker runs its responses and its escalation, for real."""

from __future__ import annotations

from testkit.worker import query, wait_for
from tests.conftest import feed_until, new_incident


async def _policy(client, team: str, delay_minutes: float = 0.02, repeat: int = 0) -> dict:
    body = {
        "team": team,
        "name": f"{team} default",
        "levels": [
            {"delay_minutes": delay_minutes, "targets": [{"type": "person", "id": "alice"}]},
            {"delay_minutes": delay_minutes, "targets": [{"type": "team", "id": team}]},
        ],
        "repeat": repeat,
        "actor": "admin",
    }
    response = await client.post("/api/v1/escalation-policies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_responses_run_in_order_and_succeed(wf_client, worker, standin, team) -> None:
    await _policy(wf_client, team)
    created = await wf_client.post("/api/v1/incidents", json=new_incident(team))
    incident_id = created.json()["incident_id"]

    async def statuses() -> list[str]:
        body = (await wf_client.get(f"/api/v1/incidents/{incident_id}/responses")).json()
        return [r["execution_status"] for r in body["responses"]]

    for _ in range(200):
        current = await statuses()
        if all(s == "succeeded" for s in current):
            break
        import asyncio

        await asyncio.sleep(0.1)
    body = (await wf_client.get(f"/api/v1/incidents/{incident_id}/responses")).json()
    assert [r["action_type"] for r in body["responses"]] == [
        "page_oncall",
        "notify_webhook",
        "scale_up_service",
        "create_ticket",
    ]
    assert [r["execution_status"] for r in body["responses"]] == ["succeeded"] * 4, body
    assert [m["policy"] for m in body["matched"]] == ["page-on-critical", "scale-latency"]
    scale = [
        r for r in standin.by_path("/automation/scale_up_service") if incident_id in (r.key or "")
    ]
    assert len(scale) == 1 and scale[0].signature_ok is True
    assert scale[0].key == f"{incident_id}-R3"
    assert scale[0].body["services"] == ["portfolio_management_service"]

    # Escalation: level 1 at once, level 2 after ~1.2 s, then the policy is exhausted.
    rows = await wait_for(
        lambda: query(
            worker.env["DATABASE_URL"],
            "select stopped_reason from incident_escalations where incident_id = %s"
            " and stopped_reason is not null",
            (incident_id,),
        ),
        within=20,
    )
    assert rows, "escalation finished"
    esc = (await wf_client.get(f"/api/v1/incidents/{incident_id}/escalation")).json()
    assert [n["level"] for n in esc["notifications"]] == [1, 2]
    assert all(n["notified"]["delivery_status"] == "delivered" for n in esc["notifications"])
    timeline = (await wf_client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    kinds = [t["kind"] for t in timeline]
    assert kinds.count("escalated") == 2 and "escalation_stopped" in kinds
    assert kinds.count("response_status_changed") == 8  # pending->in_progress->succeeded x4
    # In order, though each action's finish and the next one's begin are one statement.
    moves = [
        (t["details"]["response_id"], t["details"]["execution_status"])
        for t in timeline
        if t["kind"] == "response_status_changed"
    ]
    assert moves == [
        (f"{incident_id}-R{n}", status)
        for n in (1, 2, 3, 4)
        for status in ("in_progress", "succeeded")
    ]
    events = await feed_until(
        wf_client,
        {"incident_id": incident_id},
        lambda ev: sum("automated_response_updated" in e for e in ev) >= 8,
    )
    updates = [e["automated_response_updated"] for e in events if "automated_response_updated" in e]
    assert [(u["response_id"], u["execution_status"]) for u in updates] == moves
