"""Acknowledging an incident stops its escalation at once, not at the next level's timer.

The level delay is 30 minutes: the escalation can only stop within this test's bounded
wait if the acknowledgement woke it (the worker sends a DBOS message to the workflow
waiting in `recv` when the incident leaves OPEN).
"""

from __future__ import annotations

from testkit.worker import query, wait_for
from tests.conftest import new_incident


async def test_acknowledging_stops_the_escalation_now(
    wf_client, wf_database_url, worker, standin, team
) -> None:
    policy = {
        "team": team,
        "name": "ack",
        "levels": [
            {"delay_minutes": 30, "targets": [{"type": "person", "id": "ann"}]},
            {"delay_minutes": 30, "targets": [{"type": "person", "id": "bob"}]},
        ],
    }
    assert (await wf_client.post("/api/v1/escalation-policies", json=policy)).status_code == 201
    created = await wf_client.post("/api/v1/incidents", json=new_incident(team))
    iid = created.json()["incident_id"]

    async def level() -> int:
        body = (await wf_client.get(f"/api/v1/incidents/{iid}/escalation")).json()
        return int(body["escalation_level"])

    assert await wait_for(level, within=20) == 1, "level 1 is notified at once"
    acked = await wf_client.put(
        f"/api/v1/incidents/{iid}/status", json={"status": "ACKNOWLEDGED", "actor": "ann"}
    )
    assert acked.status_code == 200, acked.text

    def stopped() -> list[tuple[object, ...]]:
        return query(
            wf_database_url,
            "select e.stopped_reason, w.status from incident_escalations e"
            " join dbos.workflow_status w on w.workflow_uuid = 'escalation-' || e.incident_id"
            " where e.incident_id = %s and w.status = 'SUCCESS'",
            (iid,),
        )

    rows = await wait_for(stopped, within=20)
    assert rows == [("incident is ACKNOWLEDGED", "SUCCESS")], rows
    assert await level() == 1, "level 2 was never notified"
    assert not [r for r in standin.by_path("/chat") if r.body.get("recipient") == "bob"]
