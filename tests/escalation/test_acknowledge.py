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
    # This incident's pages only: the stand-in is the session's, and other tests page bob.
    assert not [
        r
        for r in standin.by_path("/chat")
        if r.body.get("recipient") == "bob" and r.key.startswith(f"{iid}:")
    ]


async def _policy(client, team: str, *people: str) -> None:  # type: ignore[no-untyped-def]
    policy = {
        "team": team,
        "name": f"{team}-policy",
        "levels": [{"delay_minutes": 30, "targets": [{"type": "person", "id": p}]} for p in people],
    }
    answer = await client.post("/api/v1/escalation-policies", json=policy)
    assert answer.status_code == 201, answer.text


def _paged(standin, person: str) -> list[object]:  # type: ignore[no-untyped-def]
    return [r for r in standin.by_path("/chat") if r.body.get("recipient") == person]


async def test_moving_to_another_team_hands_the_escalation_over_now(
    wf_client, wf_database_url, worker, standin, team
) -> None:
    mover, taker = f"{team}-from", f"{team}-to"
    await _policy(wf_client, mover, "cy-old-1", "cy-old-2")
    await _policy(wf_client, taker, "di-new-1", "di-new-2")
    created = await wf_client.post("/api/v1/incidents", json=new_incident(mover))
    iid = created.json()["incident_id"]
    assert await wait_for(lambda: _paged(standin, "cy-old-1"), within=20)

    moved = await wf_client.patch(f"/api/v1/incidents/{iid}", json={"assigned_team": taker})
    assert moved.status_code == 200, moved.text
    # The level's delay is 30 minutes: only the move's wake-up pages the new team in time.
    assert await wait_for(lambda: _paged(standin, "di-new-1"), within=20)
    body = (await wf_client.get(f"/api/v1/incidents/{iid}/escalation")).json()
    assert body["escalation_level"] == 1
    assert not _paged(standin, "cy-old-2") and not _paged(standin, "di-new-2")
    timeline = (await wf_client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    (handed,) = [e for e in timeline if e["kind"] == "escalation_handed_over"]
    assert handed["details"]["assigned_team"] == taker and handed["details"]["stopped"] is False
    assert f"{taker}-policy" in handed["note"]
    [(policy,)] = query(
        wf_database_url,
        "select p.name from incident_escalations e join escalation_policies p"
        " on p.id = e.policy_id where e.incident_id = %s",
        (iid,),
    )
    assert policy == f"{taker}-policy"


async def test_moving_to_a_team_without_a_policy_stops_the_escalation(
    wf_client, wf_database_url, worker, standin, team
) -> None:
    mover = f"{team}-alone"
    await _policy(wf_client, mover, "ed-old-1", "ed-old-2")
    created = await wf_client.post("/api/v1/incidents", json=new_incident(mover))
    iid = created.json()["incident_id"]
    assert await wait_for(lambda: _paged(standin, "ed-old-1"), within=20)
    nobody = f"{team}-nopolicy"
    moved = await wf_client.patch(f"/api/v1/incidents/{iid}", json={"assigned_team": nobody})
    assert moved.status_code == 200, moved.text

    def finished() -> list[tuple[object, ...]]:
        return query(
            wf_database_url,
            "select e.stopped_reason from incident_escalations e"
            " join dbos.workflow_status w on w.workflow_uuid = 'escalation-' || e.incident_id"
            " where e.incident_id = %s and w.status = 'SUCCESS'",
            (iid,),
        )

    rows = await wait_for(finished, within=20)
    assert rows == [(f"moved to team {nobody}, which has no escalation policy",)], rows
    timeline = (await wf_client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    (handed,) = [e for e in timeline if e["kind"] == "escalation_handed_over"]
    assert handed["details"]["stopped"] is True and "escalation stopped" in handed["note"]
    assert not _paged(standin, "ed-old-2")
    # An acknowledged incident moved later has nothing to hand over.
    acked = await wf_client.put(f"/api/v1/incidents/{iid}/status", json={"status": "ACKNOWLEDGED"})
    assert acked.status_code == 200
    back = await wf_client.patch(f"/api/v1/incidents/{iid}", json={"assigned_team": mover})
    assert back.status_code == 200
    timeline = (await wf_client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert sum(e["kind"] == "escalation_handed_over" for e in timeline) == 1
