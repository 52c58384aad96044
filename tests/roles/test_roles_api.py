"""Incident roles over HTTP: assignment (relieving the previous holder) and relief with
their history, timeline entries and events; commander on acknowledgement; a team's own
roles and the checklist their tasks put on an incident, ticked with who and when."""

from __future__ import annotations

import asyncio
import secrets

from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _team_with(client, team: str, *names: str) -> list[dict]:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/teams", json={"slug": team, "name": team})
    assert created.status_code == 201, created.text
    users = []
    for name in names:
        user = await client.post("/api/v1/users", json={"name": name, "teams": [team]})
        assert user.status_code == 201, user.text
        users.append(user.json())
    return users


async def _incident(client, team: str, headers=None) -> str:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team), headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def _key_for(client, user: dict, team: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = {
        "name": f"key of {user['name']}",
        "scopes": ["incidents:read", "incidents:write"],
        "user_id": user["id"],
    }
    if team is not None:
        body["team"] = team
    created = await client.post("/api/v1/api-keys", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["api_key"]["user_id"] == user["id"]
    return bearer(created.json()["key"])


async def test_assigning_replaces_and_the_history_keeps_both(client, team) -> None:
    ada, bob = await _team_with(client, team, f"ada-{team}", f"bob-{team}")
    incident = await _incident(client, team)
    first = await client.put(
        f"/api/v1/incidents/{incident}/roles/commander", json={"user_id": ada["id"]}
    )
    assert first.status_code == 200, first.text
    assert first.json()["user_name"] == ada["name"]
    assert first.json()["assigned_by"] == "test-admin" and first.json()["relieved_at"] is None
    same = await client.put(
        f"/api/v1/incidents/{incident}/roles/commander", json={"user_id": ada["id"]}
    )
    assert same.json()["id"] == first.json()["id"]  # the holder again: nothing recorded

    second = await client.put(
        f"/api/v1/incidents/{incident}/roles/commander", json={"user_id": bob["id"]}
    )
    assert second.status_code == 200, second.text
    scribe = await client.put(
        f"/api/v1/incidents/{incident}/roles/scribe", json={"user_id": ada["id"]}
    )
    assert scribe.status_code == 200

    roles = (await client.get(f"/api/v1/incidents/{incident}/roles")).json()
    assert {(h["role"], h["user_id"]) for h in roles["current"]} == {
        ("commander", bob["id"]),
        ("scribe", ada["id"]),
    }
    history = [(h["role"], h["user_id"], h["relieved_at"] is None) for h in roles["history"]]
    assert history == [
        ("commander", ada["id"], False),
        ("commander", bob["id"], True),
        ("scribe", ada["id"], True),
    ]
    relieved = roles["history"][0]
    assert relieved["relieved_by"] == "test-admin"
    assert relieved["assumed_at"] <= relieved["relieved_at"] == roles["history"][1]["assumed_at"]

    off = await client.delete(f"/api/v1/incidents/{incident}/roles/scribe")
    assert off.status_code == 204, off.text
    again = await client.delete(f"/api/v1/incidents/{incident}/roles/scribe")
    assert again.status_code == 204
    roles = (await client.get(f"/api/v1/incidents/{incident}/roles")).json()
    assert [h["role"] for h in roles["current"]] == ["commander"]
    assert len(roles["history"]) == 3

    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline")).json()
    kinds = [(e["kind"], e["details"].get("role"), e["details"].get("user_name")) for e in timeline]
    assert kinds[1:] == [
        ("role_assigned", "commander", ada["name"]),
        ("role_relieved", "commander", ada["name"]),
        ("role_assigned", "commander", bob["name"]),
        ("role_assigned", "scribe", ada["name"]),
        ("role_relieved", "scribe", ada["name"]),
    ]
    events = await feed_until(
        client,
        {"incident_id": incident},
        lambda es: sum("incident_role_relieved" in e for e in es) == 2,
    )
    assigned = [e["incident_role_assigned"] for e in events if "incident_role_assigned" in e]
    assert [(a["role"], a["user_id"], a["previous_user_id"]) for a in assigned] == [
        ("commander", ada["id"], None),
        ("commander", bob["id"], ada["id"]),
        ("scribe", ada["id"], None),
    ]
    assert all(a["actor"] == "test-admin" and a["assigned_team"] == team for a in assigned)


async def test_the_assignee_must_be_a_member_of_the_incidents_team(client, team) -> None:
    (ada,) = await _team_with(client, team, f"ada-{team}")
    (outsider,) = await _team_with(client, f"{team}-x", f"out-{team}")
    incident = await _incident(client, team)
    for user_id in (outsider["id"], "00000000-0000-0000-0000-000000000000"):
        answer = await client.put(
            f"/api/v1/incidents/{incident}/roles/scribe", json={"user_id": user_id}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["extra"][0]["key"] == "user_id"
    unknown = await client.put(
        f"/api/v1/incidents/{incident}/roles/janitor", json={"user_id": ada["id"]}
    )
    assert unknown.status_code == 400 and unknown.json()["extra"][0]["key"] == "role"
    missing = await client.put(
        "/api/v1/incidents/INC-19700101-999/roles/scribe", json={"user_id": ada["id"]}
    )
    assert missing.status_code == 404
    assert (await client.get("/api/v1/incidents/INC-19700101-999/roles")).status_code == 404
    assert (await client.get("/api/v1/incidents/INC-19700101-999/checklist")).status_code == 404


async def test_concurrent_assignments_leave_one_holder_and_a_whole_history(client, team) -> None:
    people = await _team_with(client, team, *(f"p{i}-{team}" for i in range(8)))
    incident = await _incident(client, team)
    answers = await asyncio.gather(
        *(
            client.put(f"/api/v1/incidents/{incident}/roles/commander", json={"user_id": p["id"]})
            for p in people
        )
    )
    assert [a.status_code for a in answers] == [200] * 8
    roles = (await client.get(f"/api/v1/incidents/{incident}/roles")).json()
    assert len(roles["current"]) == 1 and len(roles["history"]) == 8
    # Each holding ends where the next begins.
    for before, after in zip(roles["history"], roles["history"][1:], strict=False):
        assert before["relieved_at"] == after["assumed_at"]
    checklist = (await client.get(f"/api/v1/incidents/{incident}/checklist")).json()
    assert len(checklist) == 3  # the commander's tasks, once


async def test_acknowledging_makes_the_keys_user_commander_unless_held(client, team) -> None:
    ada, bob = await _team_with(client, team, f"ada-{team}", f"bob-{team}")
    ada_key, bob_key = await _key_for(client, ada, team), await _key_for(client, bob)

    incident = await _incident(client, team, headers=ada_key)
    acked = await client.put(
        f"/api/v1/incidents/{incident}/status", json={"status": "ACKNOWLEDGED"}, headers=ada_key
    )
    assert acked.status_code == 200, acked.text
    roles = (await client.get(f"/api/v1/incidents/{incident}/roles")).json()
    assert [(h["role"], h["user_id"], h["assigned_by"]) for h in roles["current"]] == [
        ("commander", ada["id"], ada["name"])
    ]
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline")).json()
    assert [e["kind"] for e in timeline] == ["created", "status_changed", "role_assigned"]
    assert {e["actor"] for e in timeline} == {ada["name"]}
    checklist = (await client.get(f"/api/v1/incidents/{incident}/checklist")).json()
    assert [i["role"] for i in checklist] == ["commander"] * 3
    events = await feed_until(
        client, {"incident_id": incident}, lambda es: any("incident_role_assigned" in e for e in es)
    )
    assert [
        e["incident_role_assigned"]["user_id"] for e in events if "incident_role_assigned" in e
    ] == [ada["id"]]

    # Held already: acknowledging (after a reopen) keeps the commander.
    held = await _incident(client, team)
    given = await client.put(
        f"/api/v1/incidents/{held}/roles/commander", json={"user_id": ada["id"]}
    )
    assert given.status_code == 200
    acked = await client.put(
        f"/api/v1/incidents/{held}/status", json={"status": "ACKNOWLEDGED"}, headers=bob_key
    )
    assert acked.status_code == 200, acked.text
    roles = (await client.get(f"/api/v1/incidents/{held}/roles")).json()
    assert [h["user_id"] for h in roles["history"]] == [ada["id"]]

    # A key with no user, or moves other than acknowledging, give the role to nobody.
    plain = await _incident(client, team)
    await client.put(f"/api/v1/incidents/{plain}/status", json={"status": "ACKNOWLEDGED"})
    other = await _incident(client, team)
    await client.put(
        f"/api/v1/incidents/{other}/status", json={"status": "INVESTIGATING"}, headers=bob_key
    )
    for incident_id in (plain, other):
        roles = (await client.get(f"/api/v1/incidents/{incident_id}/roles")).json()
        assert roles == {"current": [], "history": []}


async def test_a_non_member_acknowledging_is_not_made_commander(client, team) -> None:
    await _team_with(client, team)
    (carol,) = await _team_with(client, f"{team}-elsewhere", f"carol-{team}")
    carol_key = await _key_for(client, carol)  # no team restriction: sees every incident
    incident = await _incident(client, team)
    acked = await client.put(
        f"/api/v1/incidents/{incident}/status", json={"status": "ACKNOWLEDGED"}, headers=carol_key
    )
    assert acked.status_code == 200
    assert (await client.get(f"/api/v1/incidents/{incident}/roles")).json()["current"] == []


async def test_a_teams_roles_put_their_tasks_on_the_checklist(client, team) -> None:
    ada, bob = await _team_with(client, team, f"ada-{team}", f"bob-{team}")
    roles = (await client.get(f"/api/v1/teams/{team}/roles")).json()
    assert [r["slug"] for r in roles] == ["commander", "scribe", "communications"]
    assert all(r["built_in"] and r["tasks"] for r in roles)

    created = await client.post(
        f"/api/v1/teams/{team}/roles",
        json={
            "slug": "db-liaison",
            "name": "Database liaison",
            "instructions": "Speak for the database team.",
            "tasks": ["Check replication lag", "Freeze schema changes"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["built_in"] is False and created.json()["created_by"] == "test-admin"
    taken = await client.post(
        f"/api/v1/teams/{team}/roles", json={"slug": "db-liaison", "name": "again"}
    )
    assert taken.status_code == 409
    builtin = await client.post(f"/api/v1/teams/{team}/roles", json={"slug": "scribe", "name": "x"})
    assert builtin.status_code == 409
    fixed = await client.patch(f"/api/v1/teams/{team}/roles/commander", json={"name": "Boss"})
    assert fixed.status_code == 409
    bad = await client.post(f"/api/v1/teams/{team}/roles", json={"slug": "Bad Slug", "name": "x"})
    assert bad.status_code == 400 and "slug" in bad.text

    incident = await _incident(client, team)
    given = await client.put(
        f"/api/v1/incidents/{incident}/roles/db-liaison", json={"user_id": ada["id"]}
    )
    assert given.status_code == 200, given.text
    # Changing the role later leaves the incident's checklist as it was.
    patched = await client.patch(
        f"/api/v1/teams/{team}/roles/db-liaison", json={"tasks": ["Something else"]}
    )
    assert patched.status_code == 200 and patched.json()["tasks"] == ["Something else"]
    assert patched.json()["name"] == "Database liaison"
    await client.put(f"/api/v1/incidents/{incident}/roles/db-liaison", json={"user_id": bob["id"]})
    checklist = (await client.get(f"/api/v1/incidents/{incident}/checklist")).json()
    assert [(i["role"], i["title"], i["done"]) for i in checklist] == [
        ("db-liaison", "Check replication lag", False),
        ("db-liaison", "Freeze schema changes", False),
    ]

    # Another team's incidents do not have this team's role.
    other = f"{team}-other"
    (olga,) = await _team_with(client, other, f"olga-{team}")
    elsewhere = await _incident(client, other)
    refused = await client.put(
        f"/api/v1/incidents/{elsewhere}/roles/db-liaison", json={"user_id": olga["id"]}
    )
    assert refused.status_code == 400 and refused.json()["extra"][0]["key"] == "role"


async def test_ticking_records_who_and_when(client, team) -> None:
    (ada,) = await _team_with(client, team, f"ada-{team}")
    ada_key = await _key_for(client, ada, team)
    incident = await _incident(client, team)
    await client.put(f"/api/v1/incidents/{incident}/roles/scribe", json={"user_id": ada["id"]})
    item = (await client.get(f"/api/v1/incidents/{incident}/checklist")).json()[0]
    assert item["done"] is False and item["done_by"] is None

    ticked = await client.put(
        f"/api/v1/incidents/{incident}/checklist/{item['id']}", json={"done": True}, headers=ada_key
    )
    assert ticked.status_code == 200, ticked.text
    assert ticked.json()["done"] is True
    assert ticked.json()["done_by"] == ada["name"] and ticked.json()["done_at"]
    again = await client.put(
        f"/api/v1/incidents/{incident}/checklist/{item['id']}", json={"done": True}
    )
    assert again.json()["done_by"] == ada["name"]  # already done: unchanged, not recorded

    unticked = await client.put(
        f"/api/v1/incidents/{incident}/checklist/{item['id']}", json={"done": False}
    )
    assert unticked.json()["done"] is False and unticked.json()["done_at"] is None
    assert unticked.json()["undone_by"] == "test-admin" and unticked.json()["undone_at"]

    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline")).json()
    ticks = [
        (e["kind"], e["actor"], e["details"]["item_id"])
        for e in timeline
        if "item_id" in e["details"]
    ]
    assert ticks == [
        ("checklist_item_done", ada["name"], item["id"]),
        ("checklist_item_undone", "test-admin", item["id"]),
    ]
    events = await feed_until(
        client,
        {"incident_id": incident},
        lambda es: any("incident_checklist_item_undone" in e for e in es),
    )
    done = [
        e["incident_checklist_item_done"] for e in events if "incident_checklist_item_done" in e
    ]
    assert [(d["item_id"], d["actor"], d["title"]) for d in done] == [
        (item["id"], ada["name"], item["title"])
    ]

    missing = await client.put(
        f"/api/v1/incidents/{incident}/checklist/999999999", json={"done": True}
    )
    assert missing.status_code == 404


async def test_team_roles_of_another_team_are_not_found(client, database_url, team) -> None:
    await _team_with(client, team)
    token = secrets.token_hex(4)
    headers = bearer(
        make_api_key(database_url, name="other", scopes=["admin"], team=f"other-{token}")
    )
    assert (await client.get(f"/api/v1/teams/{team}/roles", headers=headers)).status_code == 404
    created = await client.post(
        f"/api/v1/teams/{team}/roles", json={"slug": "spy", "name": "spy"}, headers=headers
    )
    assert created.status_code == 404
    assert (await client.get(f"/api/v1/teams/{team}/roles")).json()[-1]["slug"] != "spy"


async def test_the_current_holders_are_where_update_reminders_look(
    client, database_url, team
) -> None:
    """The stakeholder update reminder finds the communications lead and the commander in
    `incident_roles` (updates/repository.py `roles_table`): the current holders only."""
    import psycopg
    from psycopg.rows import dict_row

    from incident_service.updates.repository import roles_table

    ada, bob = await _team_with(client, team, f"ada-{team}", f"bob-{team}")
    incident = await _incident(client, team)
    for user in (ada, bob):
        given = await client.put(
            f"/api/v1/incidents/{incident}/roles/communications", json={"user_id": user["id"]}
        )
        assert given.status_code == 200
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        shape = await roles_table(conn)
        assert shape is not None, "the reminder would not see the roles"
        cur = await conn.execute(
            f"select {shape['role']} as role, user_id from incident_roles r"
            f" where r.incident_id = %s{shape['current']}",
            (incident,),
        )
        rows = [(r["role"], str(r["user_id"])) for r in await cur.fetchall()]
        assert rows == [("communications", bob["id"])]
