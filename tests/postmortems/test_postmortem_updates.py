"""The post-mortem lists the stakeholder updates, as text that cannot become markup."""

from __future__ import annotations

from tests.conftest import new_incident


async def test_the_postmortem_shows_each_stakeholder_update(client, team: str) -> None:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident_id"]
    base = f"/api/v1/incidents/{incident_id}"
    hostile = 'Checkout is slow <img src=x onerror="alert(1)"> [see](javascript:alert(2))'
    for body in (
        {"status": "investigating", "message": hostile},
        {"status": "resolved", "message": "Fixed by a rollback."},
    ):
        if body["status"] == "resolved":
            resolved = await client.put(f"{base}/status", json={"status": "RESOLVED"})
            assert resolved.status_code == 200, resolved.text
        posted = await client.post(f"{base}/updates", json=body)
        assert posted.status_code == 201, posted.text

    document = (await client.get(f"{base}/postmortem")).json()
    updates = document["stakeholder_updates"]
    assert [u["status"] for u in updates] == ["investigating", "resolved"]
    assert updates[0]["message"] == hostile and updates[0]["posted_by"] == "test-admin"

    markdown = (await client.get(f"{base}/postmortem?format=markdown")).text
    section = markdown.split("## Stakeholder updates", 1)[1].split("\n## ", 1)[0]
    assert "Fixed by a rollback." in section and "<img" not in section
    page = (await client.get(f"{base}/postmortem?format=html")).text
    assert "Stakeholder updates" in page and "Fixed by a rollback." in page
    assert "<img src=x" not in page and 'href="javascript:' not in page


async def test_the_postmortem_shows_who_held_each_role(client, team: str) -> None:  # type: ignore[no-untyped-def]
    made = await client.post("/api/v1/teams", json={"slug": team, "name": team})
    assert made.status_code == 201, made.text
    people = []
    for name in ("Ada Lovelace", "Grace <b>Hopper</b>"):
        user = await client.post("/api/v1/users", json={"name": name, "teams": [team]})
        assert user.status_code == 201, user.text
        people.append(user.json()["id"])
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    incident_id = created.json()["incident_id"]
    base = f"/api/v1/incidents/{incident_id}"
    for role, user_id in (("commander", people[0]), ("scribe", people[1])):
        held = await client.put(f"{base}/roles/{role}", json={"user_id": user_id})
        assert held.status_code in (200, 201), held.text
    assert (await client.delete(f"{base}/roles/scribe")).status_code == 204
    resolved = await client.put(f"{base}/status", json={"status": "RESOLVED"})
    assert resolved.status_code == 200, resolved.text

    roles = (await client.get(f"{base}/postmortem")).json()["roles"]
    assert [(r["role"], r["name"]) for r in roles] == [
        ("commander", "Ada Lovelace"),
        ("scribe", "Grace <b>Hopper</b>"),
    ]
    assert roles[0]["relieved_at"] is None and roles[1]["relieved_at"] is not None
    markdown = (await client.get(f"{base}/postmortem?format=markdown")).text
    section = markdown.split("## Roles", 1)[1].split("\n## ", 1)[0]
    assert "| commander | Ada Lovelace |" in section and "the end |" in section
    assert "<b>" not in section
