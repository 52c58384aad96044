"""Roles (viewer, responder, manager, admin) on the existing scopes: stored on users,
changed by admins only (recorded), applied to OIDC sessions on every request with the same
rules as API keys, inside the session's team."""

from __future__ import annotations

import pytest

from incident_service.auth.sessions import SESSION_COOKIE
from incident_service.principal import ROLE_SCOPES, Role, Scope
from testkit.databases import make_api_key
from tests.auth.conftest import open_user_session
from tests.conftest import new_incident


async def _user(client, team: str, role: str) -> str:  # type: ignore[no-untyped-def]
    teams = await client.post("/api/v1/teams", json={"slug": team, "name": team})
    assert teams.status_code in (201, 409), teams.text
    created = await client.post(
        "/api/v1/users", json={"name": f"{role} of {team}", "teams": [team], "role": role}
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"] == role
    return str(created.json()["id"])


async def _as_user(browser, database_url, settings, user_id, team):  # type: ignore[no-untyped-def]
    opened = await open_user_session(database_url, user_id, team, settings)
    browser.cookies.set(SESSION_COOKIE, opened.token)
    return {"X-CSRF-Token": opened.csrf_token}


def test_roles_map_onto_the_scopes() -> None:
    assert ROLE_SCOPES[Role.VIEWER] == {Scope.INCIDENTS_READ}
    assert ROLE_SCOPES[Role.RESPONDER] == {Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE}
    assert ROLE_SCOPES[Role.MANAGER] == ROLE_SCOPES[Role.RESPONDER] | {Scope.CONFIG_WRITE}
    assert ROLE_SCOPES[Role.ADMIN] == {Scope.ADMIN}


async def test_a_new_user_is_a_responder_and_admins_change_roles(
    client, database_url, team
) -> None:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/users", json={"name": "Plain"})
    assert created.json()["role"] == "responder"  # the column's default (migration 0097)
    user_id = created.json()["id"]
    changed = await client.patch(f"/api/v1/users/{user_id}", json={"role": "manager"})
    assert changed.status_code == 200 and changed.json()["role"] == "manager"
    history = (await client.get(f"/api/v1/users/{user_id}/history")).json()
    assert history[-1]["change"] == "updated" and history[-1]["fields"] == ["role"]
    assert history[-1]["actor"] == "test-admin"
    bad = await client.patch(f"/api/v1/users/{user_id}", json={"role": "owner"})
    assert bad.status_code == 400 and "role" in bad.text
    # A key that may write configuration, but is not an admin, may not grant roles.
    config = make_api_key(database_url, name="configurer", scopes=["config:write"])
    refused = await client.patch(
        f"/api/v1/users/{user_id}",
        json={"role": "admin"},
        headers={"Authorization": f"Bearer {config}"},
    )
    assert refused.status_code == 403 and refused.json()["extra"][0]["key"] == "role"
    refused = await client.post(
        "/api/v1/users",
        json={"name": "Sneaky", "role": "responder"},
        headers={"Authorization": f"Bearer {config}"},
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("role", "can_write", "can_configure"),
    [("viewer", False, False), ("responder", True, False), ("manager", True, True)],
)
async def test_a_sessions_role_is_enforced_like_a_keys_scopes(  # type: ignore[no-untyped-def]
    browser, client, database_url, http_settings, team, role, can_write, can_configure
) -> None:
    user_id = await _user(client, team, role)
    incident = await client.post("/api/v1/incidents", json=new_incident(team))
    incident_id = incident.json()["incident_id"]
    csrf = await _as_user(browser, database_url, http_settings, user_id, team)
    read = await browser.get(f"/api/v1/incidents/{incident_id}")
    assert read.status_code == 200
    write = await browser.post("/api/v1/incidents", json=new_incident(team), headers=csrf)
    assert write.status_code == (201 if can_write else 403), write.text
    if not can_write:
        assert "incidents:write" in write.text
    configure = await browser.patch(f"/api/v1/teams/{team}", json={"name": "renamed"}, headers=csrf)
    assert configure.status_code == (200 if can_configure else 403), configure.text
    # The page shows who is signed in.
    home = await browser.get("/ui/")
    assert f"{role} of {team}" in home.text


async def test_a_role_change_applies_to_a_live_session(  # type: ignore[no-untyped-def]
    browser, client, database_url, http_settings, team
) -> None:
    user_id = await _user(client, team, "viewer")
    csrf = await _as_user(browser, database_url, http_settings, user_id, team)
    body = new_incident(team)
    assert (await browser.post("/api/v1/incidents", json=body, headers=csrf)).status_code == 403
    await client.patch(f"/api/v1/users/{user_id}", json={"role": "responder"})
    assert (await browser.post("/api/v1/incidents", json=body, headers=csrf)).status_code == 201
    await client.delete(f"/api/v1/users/{user_id}")  # deactivated: the session ends
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_a_session_of_team_a_sees_nothing_of_team_b(  # type: ignore[no-untyped-def]
    browser, client, database_url, http_settings, team
) -> None:
    other = f"{team}-b"
    theirs = await client.post("/api/v1/incidents", json=new_incident(other))
    their_id = theirs.json()["incident_id"]
    user_id = await _user(client, team, "manager")
    csrf = await _as_user(browser, database_url, http_settings, user_id, team)
    assert (await browser.get(f"/api/v1/incidents/{their_id}")).status_code == 404
    ours = await client.post("/api/v1/incidents", json=new_incident(team))
    listed = await browser.get("/api/v1/incidents", params={"limit": 200})
    ids = {i["incident_id"] for i in listed.json()}
    assert ours.json()["incident_id"] in ids and their_id not in ids
    asked = await browser.get("/api/v1/incidents", params={"assigned_team": other})
    assert asked.status_code == 200 and asked.json() == []
    changed = await browser.put(
        f"/api/v1/incidents/{their_id}/status", json={"status": "ACKNOWLEDGED"}, headers=csrf
    )
    assert changed.status_code == 404
    page = await browser.get("/ui/")
    assert their_id not in page.text
    me = (await browser.get("/api/v1/me")).json()
    assert me["team"] == team and me["user"]["id"] == user_id
    assert me["scopes"] == ["config:write", "incidents:read", "incidents:write"]
