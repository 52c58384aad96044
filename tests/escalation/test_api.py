"""Schedules, policies and manual escalation through the API (with a running worker)."""

from __future__ import annotations

from testkit.worker import wait_for
from tests.conftest import feed_until, new_incident

LAYER = {
    "name": "primary",
    "rotation": "daily",
    "participants": ["ann", "bob"],
    "starts": "2024-01-01",
    "handoff_time": "09:00:00",
}


async def _schedule(client, name: str, team: str) -> dict:
    body = {
        "name": name,
        "team": team,
        "timezone": "Europe/Paris",
        "layers": [LAYER],
        "actor": "admin",
    }
    response = await client.post("/api/v1/oncall-schedules", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_schedule_crud_oncall_and_overrides(wf_client, team) -> None:
    schedule = await _schedule(wf_client, f"sched-{team}", team)
    sid = schedule["id"]
    now = (await wf_client.get(f"/api/v1/oncall-schedules/{sid}/oncall")).json()
    assert now["person"] in {"ann", "bob"} and now["source"] == "layer:primary"

    override = {
        "person": "carol",
        "starts_at": "2020-01-01T00:00:00Z",
        "ends_at": "2100-01-01T00:00:00Z",
        "actor": "admin",
    }
    created = await wf_client.post(f"/api/v1/oncall-schedules/{sid}/overrides", json=override)
    assert created.status_code == 201, created.text
    now = (await wf_client.get(f"/api/v1/oncall-schedules/{sid}/oncall")).json()
    assert (now["person"], now["source"]) == ("carol", "override")
    oid = created.json()["id"]
    assert (
        await wf_client.delete(f"/api/v1/oncall-schedules/{sid}/overrides/{oid}")
    ).status_code == 204
    dup = await wf_client.post(
        "/api/v1/oncall-schedules",
        json={"name": f"sched-{team}", "team": team, "timezone": "UTC", "layers": [LAYER]},
    )
    assert dup.status_code == 409


async def test_bad_schedule_and_policy_bodies_are_400_naming_the_field(wf_client, team) -> None:
    bad = await wf_client.post(
        "/api/v1/oncall-schedules",
        json={"name": "x", "timezone": "Mars/Olympus", "layers": [LAYER | {"rotation": "hourly"}]},
    )
    assert bad.status_code == 400
    keys = {e["key"] for e in bad.json()["extra"]}
    assert "timezone" in keys and any(k.startswith("layers") for k in keys), keys

    missing = await wf_client.post(
        "/api/v1/escalation-policies",
        json={
            "team": team,
            "name": "p",
            "levels": [
                {
                    "delay_minutes": 5,
                    "targets": [{"type": "schedule", "id": "00000000-0000-0000-0000-000000000000"}],
                }
            ],
        },
    )
    assert missing.status_code == 400, missing.text
    assert missing.json()["extra"][0]["key"] == "levels.0.targets.0.id"

    negative = await wf_client.post(
        "/api/v1/escalation-policies",
        json={"team": team, "name": "p", "levels": [{"delay_minutes": -1, "targets": []}]},
    )
    assert negative.status_code == 400


async def test_policy_in_use_keeps_its_schedule(wf_client, team) -> None:
    schedule = await _schedule(wf_client, f"kept-{team}", team)
    policy = await wf_client.post(
        "/api/v1/escalation-policies",
        json={
            "team": team,
            "name": "p",
            "levels": [
                {"delay_minutes": 5, "targets": [{"type": "schedule", "id": schedule["id"]}]}
            ],
        },
    )
    assert policy.status_code == 201, policy.text
    gone = await wf_client.delete(f"/api/v1/oncall-schedules/{schedule['id']}")
    assert gone.status_code == 409 and team in gone.json()["teams"]
    listed = (await wf_client.get("/api/v1/escalation-policies")).json()
    assert any(p["team"] == team for p in listed)


async def test_manual_escalation_result_and_conflicts(wf_client, worker, standin, team) -> None:
    schedule = await _schedule(wf_client, f"esc-{team}", team)
    policy = {
        "team": team,
        "name": "p",
        "levels": [
            {"delay_minutes": 30, "targets": [{"type": "schedule", "id": schedule["id"]}]},
            {
                "delay_minutes": 30,
                "targets": [{"type": "person", "id": "manager"}, {"type": "team", "id": team}],
            },
            {"delay_minutes": 30, "targets": [{"type": "person", "id": "director"}]},
        ],
    }
    assert (await wf_client.post("/api/v1/escalation-policies", json=policy)).status_code == 201
    incident = (
        await wf_client.post("/api/v1/incidents", json=new_incident(team, severity="SEV4_LOW"))
    ).json()
    iid = incident["incident_id"]

    async def level() -> int:
        return (await wf_client.get(f"/api/v1/incidents/{iid}/escalation")).json()[
            "escalation_level"
        ]

    assert await wait_for(level, within=20) == 1, "level 1 is notified at once by the worker"

    url = f"/api/v1/incidents/{iid}/escalate"
    result = await wf_client.post(url, json={"reason": "customer impact", "actor": "dave"})
    assert result.status_code == 200, result.text
    body = result.json()
    assert (body["previous_level"], body["escalation_level"]) == (1, 2)
    assert [
        (n["target_type"], n["recipient"], n["channel"], n["delivery_status"])
        for n in body["notified"]
    ] == [
        ("person", "manager", "webhook", "delivered"),
        ("team", team, "webhook", "delivered"),
    ]
    assert body["escalated_at"]
    sent = [r for r in standin.by_path("/chat") if r.body.get("incident_id") == iid]
    assert {r.body["recipient"] for r in sent} >= {"manager", team}
    assert all(r.signature_ok for r in sent)

    again = await wf_client.post(url, json={"reason": "again", "target_level": 2})
    assert again.status_code == 409
    too_far = await wf_client.post(url, json={"reason": "x", "target_level": 4})
    assert too_far.status_code == 400 and too_far.json()["extra"][0]["key"] == "target_level"
    blank = await wf_client.post(url, json={"target_level": 3})
    assert blank.status_code == 400 and blank.json()["extra"][0]["key"] == "reason"

    events = await feed_until(
        wf_client, {"incident_id": iid}, lambda ev: sum("incident_escalated" in e for e in ev) >= 2
    )
    escalated = [e["incident_escalated"] for e in events if "incident_escalated" in e]
    # The actor is the key that asked; the body's `actor` is kept beside it.
    assert [
        (e["previous_level"], e["escalation_level"], e["actor"], e.get("on_behalf_of"))
        for e in escalated
    ] == [(0, 1, "system", None), (1, 2, "wf-admin", "dave")]

    await wf_client.put(f"/api/v1/incidents/{iid}/status", json={"status": "RESOLVED"})
    resolved = await wf_client.post(url, json={"reason": "late"})
    assert resolved.status_code == 409 and resolved.json()["current_status"] == "RESOLVED"


async def test_escalate_unknown_incident_is_404(wf_client) -> None:
    response = await wf_client.post(
        "/api/v1/incidents/INC-19990101-001/escalate", json={"reason": "x"}
    )
    assert response.status_code == 404
