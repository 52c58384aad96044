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
