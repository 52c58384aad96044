"""People and teams over HTTP: users (email shape and uniqueness, IANA time zones, PATCH of
only the fields sent), teams with members (audit of every change), and what a team key
sees and changes (its own team and its members only)."""

from __future__ import annotations

import secrets
from uuid import uuid4

import pytest

from testkit.databases import make_api_key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def make_team(client, slug: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/teams", json={"slug": slug, "name": slug, **extra})
    assert created.status_code == 201, created.text
    return created.json()


async def make_user(client, name: str | None = None, **extra) -> dict:  # type: ignore[no-untyped-def]
    name = name or f"user-{secrets.token_hex(4)}"
    body = {"name": name, "email": f"{name}@example.com", **extra}
    created = await client.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_user_is_created_read_listed_and_patched(client, team) -> None:
    await make_team(client, team)
    user = await make_user(client, chat_handle="@ada", time_zone="Europe/Paris", teams=[team])
    assert user["time_zone"] == "Europe/Paris"
    assert user["teams"] == [team]
    assert user["active"] is True
    assert user["created_by"] == "test-admin" and user["updated_by"] == "test-admin"

    got = await client.get(f"/api/v1/users/{user['id']}")
    assert got.status_code == 200 and got.json() == user
    listed = await client.get("/api/v1/users")
    assert user["id"] in {u["id"] for u in listed.json()}

    patched = await client.patch(
        f"/api/v1/users/{user['id']}", json={"time_zone": "America/New_York", "chat_handle": None}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["time_zone"] == "America/New_York"
    assert body["chat_handle"] is None
    assert body["name"] == user["name"] and body["email"] == user["email"]  # not sent: kept
    assert body["updated_at"] > user["updated_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "email": "not-an-address"}, "email"),
        ({"name": "x", "email": "a b@example.com"}, "email"),
        ({"name": "x", "email": "a@localhost"}, "email"),
        ({"name": "x", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "x", "time_zone": "../../etc/passwd"}, "time_zone"),
        ({"name": "   "}, "name"),
        ({"name": "x", "teams": ["no/slash"]}, "teams"),
    ],
)
async def test_invalid_users_are_400_naming_the_field(client, body, field) -> None:
    answer = await client.post("/api/v1/users", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.text


async def test_an_email_names_one_user_whatever_its_case(client) -> None:
    user = await make_user(client)
    again = await client.post(
        "/api/v1/users", json={"name": "twin", "email": user["email"].upper()}
    )
    assert again.status_code == 409, again.text
    assert again.json()["extra"][0]["key"] == "email"

    other = await make_user(client)
    taken = await client.patch(f"/api/v1/users/{other['id']}", json={"email": user["email"]})
    assert taken.status_code == 409, taken.text
    # The 409 rolled back nothing else of the request and left the user as it was.
    assert (await client.get(f"/api/v1/users/{other['id']}")).json()["email"] == other["email"]


async def test_a_user_in_a_missing_team_is_400(client) -> None:
    answer = await client.post("/api/v1/users", json={"name": "x", "teams": ["no-such-team-x"]})
    assert answer.status_code == 400 and "teams" in answer.text


async def test_unknown_user_is_404(client) -> None:
    assert (await client.get(f"/api/v1/users/{uuid4()}")).status_code == 404
    patched = await client.patch(f"/api/v1/users/{uuid4()}", json={"name": "x"})
    assert patched.status_code == 404


async def test_a_team_with_members_and_their_audit(client, team) -> None:
    ada, bob = await make_user(client), await make_user(client)
    created = await make_team(client, team, members=[ada["id"]])
    assert [m["user_id"] for m in created["members"]] == [ada["id"]]
    assert created["members"][0]["added_by"] == "test-admin"

    added = await client.put(f"/api/v1/teams/{team}/members/{bob['id']}")
    assert added.status_code == 200, added.text
    assert {m["user_id"] for m in added.json()["members"]} == {ada["id"], bob["id"]}
    again = await client.put(f"/api/v1/teams/{team}/members/{bob['id']}")  # no change
    assert again.status_code == 200

    removed = await client.delete(f"/api/v1/teams/{team}/members/{ada['id']}")
    assert removed.status_code == 200, removed.text
    assert [m["user_id"] for m in removed.json()["members"]] == [bob["id"]]
    gone = await client.delete(f"/api/v1/teams/{team}/members/{ada['id']}")
    assert gone.status_code == 404

    history = (await client.get(f"/api/v1/teams/{team}/members/history")).json()
    assert [(h["user_id"], h["change"]) for h in history] == [
        (ada["id"], "added"),
        (bob["id"], "added"),
        (ada["id"], "removed"),
    ]
    assert all(h["actor"] == "test-admin" and h["changed_at"] for h in history)
    # The user's own record lists the team while they are in it.
    assert (await client.get(f"/api/v1/users/{bob['id']}")).json()["teams"] == [team]
    assert (await client.get(f"/api/v1/users/{ada['id']}")).json()["teams"] == []


async def test_team_create_conflicts_and_validation(client, team) -> None:
    await make_team(client, team)
    again = await client.post("/api/v1/teams", json={"slug": team, "name": "again"})
    assert again.status_code == 409 and again.json()["extra"][0]["key"] == "slug"
    for slug in ("a/b", "..", " padded"):
        bad = await client.post("/api/v1/teams", json={"slug": slug, "name": "x"})
        assert bad.status_code == 400 and "slug" in bad.text, (slug, bad.text)
    missing = await client.post(
        "/api/v1/teams", json={"slug": f"{team}-2", "name": "x", "members": [str(uuid4())]}
    )
    assert missing.status_code == 400 and "members" in missing.text
    assert (await client.get(f"/api/v1/teams/{team}-2")).status_code == 404


async def test_a_team_patch_and_its_default_escalation_policy(client, team) -> None:
    await make_team(client, team)
    policy = await client.post(
        "/api/v1/escalation-policies",
        json={
            "team": team,
            "name": "default",
            "levels": [{"delay_minutes": 5, "targets": [{"type": "person", "id": "ada"}]}],
        },
    )
    assert policy.status_code == 201, policy.text
    patched = await client.patch(
        f"/api/v1/teams/{team}",
        json={"name": "Payments", "default_escalation_policy_id": policy.json()["id"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Payments"
    assert patched.json()["default_escalation_policy_id"] == policy.json()["id"]

    other = f"{team}-other"
    await make_team(client, other)
    foreign = await client.patch(
        f"/api/v1/teams/{other}", json={"default_escalation_policy_id": policy.json()["id"]}
    )
    assert foreign.status_code == 400
    assert foreign.json()["extra"][0]["key"] == "default_escalation_policy_id"
    cleared = await client.patch(
        f"/api/v1/teams/{team}", json={"default_escalation_policy_id": None}
    )
    assert cleared.json()["default_escalation_policy_id"] is None
    assert cleared.json()["name"] == "Payments"


async def test_a_team_key_sees_its_team_and_its_members_only(client, database_url) -> None:
    token = secrets.token_hex(4)
    a, b = f"a-{token}", f"b-{token}"
    await make_team(client, a)
    await make_team(client, b)
    in_a = await make_user(client, teams=[a])
    in_b = await make_user(client, teams=[b])
    in_both = await make_user(client, teams=[a, b])
    headers = bearer(
        make_api_key(
            database_url, name="a-admin", scopes=["config:write", "incidents:read"], team=a
        )
    )

    teams = (await client.get("/api/v1/teams", headers=headers)).json()
    assert [t["slug"] for t in teams] == [a]
    users = {u["id"]: u for u in (await client.get("/api/v1/users", headers=headers)).json()}
    assert set(users) == {in_a["id"], in_both["id"]}
    # A user in both teams shows team A only: team B's name is not the caller's to see.
    assert users[in_both["id"]]["teams"] == [a]
    assert b not in str(users)

    assert (await client.get(f"/api/v1/teams/{b}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/users/{in_b['id']}", headers=headers)).status_code == 404
    changes = [
        client.patch(f"/api/v1/teams/{b}", json={"name": "mine"}, headers=headers),
        client.patch(f"/api/v1/users/{in_b['id']}", json={"name": "mine"}, headers=headers),
        client.put(f"/api/v1/teams/{b}/members/{in_a['id']}", headers=headers),
        client.delete(f"/api/v1/teams/{b}/members/{in_b['id']}", headers=headers),
        client.put(f"/api/v1/teams/{a}/members/{in_b['id']}", headers=headers),
        client.get(f"/api/v1/teams/{b}/members/history", headers=headers),
    ]
    for call in changes:
        answer = await call
        assert answer.status_code == 404, answer.text
    created_b = await client.post(
        "/api/v1/teams", json={"slug": f"c-{token}", "name": "c"}, headers=headers
    )
    assert created_b.status_code == 403 and created_b.json()["extra"][0]["key"] == "slug"
    into_b = await client.post("/api/v1/users", json={"name": "x", "teams": [b]}, headers=headers)
    assert into_b.status_code == 403 and into_b.json()["extra"][0]["key"] == "teams"

    # A user a team key creates joins its team.
    mine = await client.post("/api/v1/users", json={"name": f"new-{token}"}, headers=headers)
    assert mine.status_code == 201, mine.text
    assert mine.json()["teams"] == [a] and mine.json()["created_by"] == "a-admin"
    # Team B is untouched.
    team_b = (await client.get(f"/api/v1/teams/{b}")).json()
    assert team_b["name"] == b
    assert {m["user_id"] for m in team_b["members"]} == {in_b["id"], in_both["id"]}


async def test_reading_needs_incidents_read_and_writing_config_write(client, database_url) -> None:
    reader = bearer(make_api_key(database_url, name="reader", scopes=["incidents:read"]))
    writer = bearer(make_api_key(database_url, name="writer", scopes=["incidents:write"]))
    assert (await client.get("/api/v1/users", headers=reader)).status_code == 200
    assert (await client.get("/api/v1/teams", headers=reader)).status_code == 200
    for headers in (reader, writer):
        answer = await client.post("/api/v1/users", json={"name": "x"}, headers=headers)
        assert answer.status_code == 403
        answer = await client.post(
            "/api/v1/teams", json={"slug": "x", "name": "x"}, headers=headers
        )
        assert answer.status_code == 403


async def test_a_deactivated_user_keeps_their_record(client) -> None:
    user = await make_user(client)
    off = await client.patch(f"/api/v1/users/{user['id']}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    null = await client.patch(f"/api/v1/users/{user['id']}", json={"name": None})
    assert null.status_code == 400 and null.json()["extra"][0]["key"] == "name"
    on = await client.patch(f"/api/v1/users/{user['id']}", json={"active": True})
    assert on.json()["active"] is True
