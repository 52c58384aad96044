"""A key may act for a user: the user must exist (and, for a team key, be a member of its
team), and every record the key writes then names that user as the actor."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _member(client, team: str, name: str) -> dict:  # type: ignore[no-untyped-def]
    made = await client.post("/api/v1/teams", json={"slug": team, "name": team})
    assert made.status_code in (201, 409), made.text
    user = await client.post("/api/v1/users", json={"name": name, "teams": [team]})
    assert user.status_code == 201, user.text
    return user.json()


async def test_records_name_the_keys_user_as_actor(client, team) -> None:
    ada = await _member(client, team, f"Ada Lovelace {team}")
    created = await client.post(
        "/api/v1/api-keys",
        json={
            "name": "ada's laptop",
            "scopes": ["incidents:read", "incidents:write"],
            "team": team,
            "user_id": ada["id"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["api_key"]["user_id"] == ada["id"]
    listed = {k["id"]: k for k in (await client.get("/api/v1/api-keys")).json()}
    assert listed[created.json()["api_key"]["id"]]["user_id"] == ada["id"]
    headers = bearer(created.json()["key"])

    incident = await client.post("/api/v1/incidents", json=new_incident(team), headers=headers)
    assert incident.status_code == 201, incident.text
    assert incident.json()["created_by"] == ada["name"]
    incident_id = incident.json()["incident_id"]
    changed = await client.put(
        f"/api/v1/incidents/{incident_id}/status",
        json={"status": "INVESTIGATING", "note": "looking"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    assert [e["actor"] for e in timeline] == [ada["name"], ada["name"]]
    events = await feed_until(
        client,
        {"incident_id": incident_id},
        lambda es: any("incident_status_changed" in e for e in es),
    )
    changes = [e["incident_status_changed"] for e in events if "incident_status_changed" in e]
    assert [c["actor"] for c in changes] == [ada["name"]]


async def test_the_user_must_exist_and_be_in_the_keys_team(client, database_url, team) -> None:
    ada = await _member(client, team, f"ada {team}")
    elsewhere = await _member(client, f"{team}-b", f"bob {team}")
    for body in (
        {"user_id": str(uuid4())},
        {"user_id": elsewhere["id"], "team": team},
    ):
        answer = await client.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": ["incidents:read"], **body}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["extra"][0]["key"] == "user_id"
    # A team's admin names only its own members, and the answer does not tell the others.
    team_admin = bearer(make_api_key(database_url, name="ta", scopes=["admin"], team=team))
    outside = await client.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["incidents:read"], "team": team, "user_id": elsewhere["id"]},
        headers=team_admin,
    )
    assert outside.status_code == 400 and f"{team}-b" not in outside.text
    inside = await client.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["incidents:read"], "team": team, "user_id": ada["id"]},
        headers=team_admin,
    )
    assert inside.status_code == 201, inside.text


async def test_a_deactivated_users_key_stops_working(client, team) -> None:
    ada = await _member(client, team, f"ada {team}")
    created = await client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["incidents:read"], "user_id": ada["id"]}
    )
    key = bearer(created.json()["key"])
    off = await client.patch(f"/api/v1/users/{ada['id']}", json={"active": False})
    assert off.status_code == 200
    assert (await client.get("/api/v1/incidents", headers=key)).status_code == 401
    again = await client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["incidents:read"], "user_id": ada["id"]}
    )
    assert again.status_code == 400 and again.json()["extra"][0]["key"] == "user_id"


async def test_the_cli_creates_a_key_for_a_user(client, database_url, team, capsys) -> None:
    from incident_service.cli import build_parser
    from incident_service.config import Settings

    ada = await _member(client, team, f"ada {team}")
    settings = Settings(database_url=database_url)

    def cli(*args: str) -> tuple[int, str, str]:
        parsed = build_parser().parse_args(["api-keys", "create", "--name", "cli", *args])
        code = parsed.func(parsed, settings)
        out, err = capsys.readouterr()
        return code, out, err

    # The CLI runs its own event loop: in a thread of its own here.
    code, out, err = await asyncio.to_thread(
        cli, "--scopes", "incidents:read", "--team", team, "--user-id", ada["id"]
    )
    assert code == 0, err
    listed = (await client.get("/api/v1/incidents", headers=bearer(out.strip()))).status_code
    assert listed == 200
    code, _, err = await asyncio.to_thread(
        cli, "--scopes", "incidents:read", "--user-id", str(uuid4())
    )
    assert code == 1 and "user" in err
