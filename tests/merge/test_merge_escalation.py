"""Merging an incident stops its escalation at once, with a real worker.

The level delay is 30 minutes: the escalation can only stop within this test's bounded
wait if the merge woke it (its `incident_status_changed` event, OPEN -> MERGED, is what
the worker's acknowledgement watcher sends on) and the merge's stop reason ended it.
"""

from __future__ import annotations

from testkit.worker import query, wait_for
from tests.conftest import new_incident


async def test_merging_stops_the_sources_escalation_now(
    wf_client, wf_database_url, worker, standin, team
) -> None:
    policy = {
        "team": team,
        "name": "merge",
        "levels": [
            {"delay_minutes": 30, "targets": [{"type": "person", "id": "ann"}]},
            {"delay_minutes": 30, "targets": [{"type": "person", "id": "bob"}]},
        ],
    }
    assert (await wf_client.post("/api/v1/escalation-policies", json=policy)).status_code == 201
    target = (await wf_client.post("/api/v1/incidents", json=new_incident(team))).json()
    source = (await wf_client.post("/api/v1/incidents", json=new_incident(team))).json()
    tid, sid = target["incident_id"], source["incident_id"]

    async def level(incident_id: str) -> int:
        body = (await wf_client.get(f"/api/v1/incidents/{incident_id}/escalation")).json()
        return int(body["escalation_level"])

    assert await wait_for(lambda: level(sid), within=30) == 1, "level 1 is notified at once"
    assert await wait_for(lambda: level(tid), within=30) == 1
    merged = await wf_client.post(
        f"/api/v1/incidents/{tid}/merge",
        json={"source_incident_ids": [sid], "reason": "duplicate"},
    )
    assert merged.status_code == 200, merged.text

    def stopped() -> list[tuple[object, ...]]:
        return query(
            wf_database_url,
            "select e.stopped_reason, w.status from incident_escalations e"
            " join dbos.workflow_status w on w.workflow_uuid = 'escalation-' || e.incident_id"
            " where e.incident_id = %s and w.status = 'SUCCESS'",
            (sid,),
        )

    rows = await wait_for(stopped, within=30)
    assert rows == [(f"merged into {tid}", "SUCCESS")], rows
    assert await level(sid) == 1, "level 2 was never notified"
    body = (await wf_client.get(f"/api/v1/incidents/{sid}/escalation")).json()
    assert body["stopped_reason"] == f"merged into {tid}"
    # The target's own escalation goes on.
    state = query(
        wf_database_url,
        "select stopped_reason from incident_escalations where incident_id = %s",
        (tid,),
    )
    assert state == [(None,)], state
