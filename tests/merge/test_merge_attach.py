"""What a merged source hands to its target besides its alerts: its follow-ups."""

from __future__ import annotations

from tests.conftest import new_incident


async def test_follow_ups_move_to_the_target(client, team: str) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for _ in range(2):
        created = await client.post("/api/v1/incidents", json=new_incident(team))
        assert created.status_code == 201, created.text
        ids.append(created.json()["incident_id"])
    target, source = ids
    made = await client.post(
        f"/api/v1/incidents/{source}/follow-ups", json={"title": "Add a probe"}
    )
    assert made.status_code == 201, made.text

    merged = await client.post(
        f"/api/v1/incidents/{target}/merge",
        json={"source_incident_ids": [source], "reason": "same outage"},
    )
    assert merged.status_code == 200, merged.text
    on_target = (await client.get(f"/api/v1/incidents/{target}/follow-ups")).json()
    on_source = (await client.get(f"/api/v1/incidents/{source}/follow-ups")).json()
    titles = [
        f["title"]
        for f in (on_target.get("items", on_target) if isinstance(on_target, dict) else on_target)
    ]
    assert "Add a probe" in titles, on_target
    left = on_source.get("items", on_source) if isinstance(on_source, dict) else on_source
    assert left == [], on_source
