"""Deactivating a user (DELETE /api/v1/users/{id}: a soft delete), their keys refused with a
401 that says why, removing members through PATCH /api/v1/teams/{slug}, the audit of every
change, and GET /api/v1/me."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.databases import make_api_key
from tests.conftest import new_incident
from tests.people.test_people_api import bearer, make_team, make_user


@pytest.fixture(scope="module")
async def uncached(
    settings: Settings, admin_headers: dict[str, str]
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The app with keys looked up on every request (no 5 s cache), so that a
    deactivation is seen by the next request."""
    app = create_app(settings.model_copy(update={"api_key_cache_s": 0.0}))
    async with AsyncTestClient(app=app) as client:
        client.headers.update(admin_headers)
        yield client


async def _key_for(client, team: str, user_id: str, scopes: list[str]) -> str:  # type: ignore[no-untyped-def]
    body = {"name": "k", "scopes": scopes, "team": team, "user_id": user_id}
    made = await client.post("/api/v1/api-keys", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


async def test_me_tells_the_key_its_scope_and_its_user(uncached, database_url, team) -> None:
    await make_team(uncached, team)
    await make_team(uncached, f"{team}-x")
    ada = await make_user(uncached, teams=[team, f"{team}-x"])
    key = await _key_for(uncached, team, ada["id"], ["incidents:read"])
    me = await uncached.get("/api/v1/me", headers=bearer(key))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["team"] == team and body["scopes"] == ["incidents:read"]
    assert body["actor"] == ada["name"] and body["prefix"] == key[:12]
    # The team key sees its own team among the user's, not the other one.
    assert body["user"] == {
        "id": ada["id"],
        "name": ada["name"],
        "email": ada["email"],
        "teams": [team],
    }
    admin = (await uncached.get("/api/v1/me")).json()
    assert admin["team"] is None and admin["user"] is None and admin["scopes"] == ["admin"]
    # Any valid key may ask, whatever its scopes; no key may not.
    metrics = make_api_key(database_url, name="scraper", scopes=["metrics:read"])
    assert (await uncached.get("/api/v1/me", headers=bearer(metrics))).status_code == 200
    assert (await uncached.get("/api/v1/me", headers={"Authorization": ""})).status_code == 401


async def test_a_deactivated_user_keeps_their_records_and_loses_their_keys(uncached, team) -> None:
    await make_team(uncached, team)
    bo = await make_user(uncached, teams=[team])
    key = await _key_for(uncached, team, bo["id"], ["incidents:read", "incidents:write"])
    made = await uncached.post("/api/v1/incidents", json=new_incident(team), headers=bearer(key))
    assert made.status_code == 201, made.text
    incident_id = made.json()["incident_id"]

    gone = await uncached.delete(f"/api/v1/users/{bo['id']}")
    assert gone.status_code == 200, gone.text
    assert gone.json()["active"] is False and gone.json()["deactivated_at"] is not None
    again = await uncached.delete(f"/api/v1/users/{bo['id']}")
    assert again.json()["deactivated_at"] == gone.json()["deactivated_at"]
    # Still readable, still on the incident they made.
    assert (await uncached.get(f"/api/v1/users/{bo['id']}")).json()["active"] is False
    assert (await uncached.get(f"/api/v1/incidents/{incident_id}")).json()["created_by"] == bo[
        "name"
    ]

    refused = await uncached.get("/api/v1/me", headers=bearer(key))
    assert refused.status_code == 401
    assert "deactivated" in refused.json()["detail"] and bo["id"] in refused.json()["detail"]

    # They can no longer be given a role, a follow-up or the incident.
    role = await uncached.put(
        f"/api/v1/incidents/{incident_id}/roles/scribe", json={"user_id": bo["id"]}
    )
    assert role.status_code == 400 and "user_id" in role.text, role.text
    follow_up = await uncached.post(
        f"/api/v1/incidents/{incident_id}/follow-ups",
        json={"title": "Their job", "owner_id": bo["id"]},
    )
    assert follow_up.status_code == 400 and "owner_id" in follow_up.text
    assigned = await uncached.patch(f"/api/v1/incidents/{incident_id}", json={"assignee": bo["id"]})
    assert assigned.status_code == 400 and "assignee" in assigned.text

    # Reactivated: the key works again.
    back = await uncached.patch(f"/api/v1/users/{bo['id']}", json={"active": True})
    assert back.json()["active"] is True and back.json()["deactivated_at"] is None
    assert (await uncached.get("/api/v1/me", headers=bearer(key))).status_code == 200
    renamed = await uncached.patch(f"/api/v1/users/{bo['id']}", json={"time_zone": "Asia/Tokyo"})
    assert renamed.status_code == 200
    await uncached.patch(f"/api/v1/users/{bo['id']}", json={"active": True})  # no change

    history = (await uncached.get(f"/api/v1/users/{bo['id']}/history")).json()
    assert [(h["change"], h["fields"], h["actor"]) for h in history] == [
        ("created", [], "test-admin"),
        ("deactivated", [], "test-admin"),
        ("reactivated", [], "test-admin"),
        ("updated", ["time_zone"], "test-admin"),
    ]


async def test_a_team_key_deactivates_only_its_members(uncached, database_url, team) -> None:
    await make_team(uncached, team)
    other = await make_user(uncached, teams=[])
    team_admin = bearer(make_api_key(database_url, name="ta", scopes=["admin"], team=team))
    missing = await uncached.delete(f"/api/v1/users/{other['id']}", headers=team_admin)
    assert missing.status_code == 404
    assert (await uncached.get(f"/api/v1/users/{other['id']}")).json()["active"] is True
    reader = bearer(make_api_key(database_url, name="r", scopes=["incidents:read"]))
    assert (
        await uncached.delete(f"/api/v1/users/{other['id']}", headers=reader)
    ).status_code == 403


async def test_patch_adds_and_removes_members_each_audited(uncached, team) -> None:
    await make_team(uncached, team)
    ann, ben = await make_user(uncached), await make_user(uncached)
    added = await uncached.patch(
        f"/api/v1/teams/{team}", json={"add_members": [ann["id"], ben["id"]]}
    )
    assert added.status_code == 200, added.text
    assert {m["user_id"] for m in added.json()["members"]} == {ann["id"], ben["id"]}
    removed = await uncached.patch(
        f"/api/v1/teams/{team}", json={"remove_members": [ann["id"]], "name": "Renamed"}
    )
    assert removed.status_code == 200, removed.text
    assert [m["user_id"] for m in removed.json()["members"]] == [ben["id"]]
    assert removed.json()["name"] == "Renamed"
    for body, field in (
        ({"remove_members": [ann["id"]]}, "remove_members"),  # not a member any more
        ({"add_members": [ben["id"]], "remove_members": [ben["id"]]}, "remove_members"),
        ({"add_members": ["00000000-0000-0000-0000-000000000000"]}, "add_members"),
        ({"remove_members": "everyone"}, "remove_members"),
    ):
        refused = await uncached.patch(f"/api/v1/teams/{team}", json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert field in refused.text
    history = (await uncached.get(f"/api/v1/teams/{team}/members/history")).json()
    assert [(h["user_id"], h["change"]) for h in history] == [
        (ann["id"], "added"),
        (ben["id"], "added"),
        (ann["id"], "removed"),
    ] or sorted(h["change"] for h in history) == ["added", "added", "removed"]
    assert history[-1] == {**history[-1], "user_id": ann["id"], "change": "removed"}
