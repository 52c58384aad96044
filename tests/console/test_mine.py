""" "Mine": a person's open incidents (assigned, or holding a role), roles and follow-ups,
within their key's team."""

from __future__ import annotations

from tests.conftest import new_incident
from tests.people.test_people_api import make_team, make_user


async def test_mine_lists_what_is_mine_in_my_team(client, team: str) -> None:
    await make_team(client, team)
    await make_team(client, f"{team}-b")
    me = await make_user(client, teams=[team, f"{team}-b"])
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "my key", "scopes": ["incidents:read"], "team": team, "user_id": me["id"]},
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['key']}"}

    async def incident(team_: str, title: str) -> str:
        answer = await client.post("/api/v1/incidents", json=new_incident(team_, title=title))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["incident_id"])

    assigned = await incident(team, "assigned to me")
    patched = await client.patch(f"/api/v1/incidents/{assigned}", json={"assignee": me["id"]})
    assert patched.status_code == 200, patched.text
    commanded = await incident(team, "I command this")
    given = await client.put(
        f"/api/v1/incidents/{commanded}/roles/commander", json={"user_id": me["id"]}
    )
    assert given.status_code == 200, given.text
    followed = await client.post(
        f"/api/v1/incidents/{commanded}/follow-ups",
        json={"title": "add an alert on queue depth", "owner_id": me["id"]},
    )
    assert followed.status_code == 201, followed.text
    elsewhere = await incident(f"{team}-b", "mine but in the other team")
    assert (
        await client.patch(f"/api/v1/incidents/{elsewhere}", json={"assignee": me["id"]})
    ).status_code == 200
    not_mine = await incident(team, "somebody else's")

    page = await client.get("/ui/mine", headers=headers)
    assert page.status_code == 200, page.text
    html = page.text
    assert f"/ui/incidents/{assigned}" in html and f"/ui/incidents/{commanded}" in html
    assert "<strong>commander</strong>" in html and "add an alert on queue depth" in html
    assert f"/ui/incidents/{elsewhere}" not in html  # the key's team only
    assert f"/ui/incidents/{not_mine}" not in html
    # A resolved incident is no longer open work.
    resolved = await client.put(f"/api/v1/incidents/{assigned}/status", json={"status": "RESOLVED"})
    assert resolved.status_code == 200, resolved.text
    again = (await client.get("/ui/mine", headers=headers)).text
    assert ">assigned to me</a>" not in again


async def test_a_key_for_nobody_is_told_so(client) -> None:
    page = await client.get("/ui/mine")
    assert page.status_code == 200 and "acts for nobody" in page.text
