"""Escalation configuration is a team's own: a key restricted to team A sees and changes
team A's schedules and policy only; team B's are 404, exactly as missing ones; a policy
targets its own team's schedules only. The actor recorded is the key, never the body."""

from __future__ import annotations

import secrets
import uuid

import pytest

from testkit.databases import make_api_key

LAYER = {"name": "primary", "rotation": "daily", "participants": ["ann"], "starts": "2024-01-01"}


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def teams(database_url: str) -> dict[str, object]:
    token = secrets.token_hex(4)
    a, b = f"a-{token}", f"b-{token}"
    scopes = ["config:write", "incidents:read", "incidents:write"]
    return {
        "a": a,
        "b": b,
        "key_a": _headers(make_api_key(database_url, name=f"key-{a}", scopes=scopes, team=a)),
        "key_b": _headers(make_api_key(database_url, name=f"key-{b}", scopes=scopes, team=b)),
    }


def _schedule(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "timezone": "UTC", "layers": [LAYER]} | extra


def _policy(team: str, targets: list[dict[str, str]]) -> dict[str, object]:
    return {
        "team": team,
        "name": f"{team} policy",
        "levels": [{"delay_minutes": 5, "targets": targets}],
    }


async def test_a_team_key_acts_on_its_own_team_only(client, teams) -> None:
    a, b, key_a, key_b = teams["a"], teams["b"], teams["key_a"], teams["key_b"]
    # A team key's schedule belongs to its team without naming it; both teams may use the
    # same name.
    sched_b = await client.post(
        "/api/v1/oncall-schedules", json=_schedule("primary"), headers=key_b
    )
    assert sched_b.status_code == 201, sched_b.text
    assert sched_b.json()["team"] == b
    sched_a = await client.post(
        "/api/v1/oncall-schedules", json=_schedule("primary"), headers=key_a
    )
    assert sched_a.status_code == 201 and sched_a.json()["team"] == a, sched_a.text
    sid_a, sid_b = sched_a.json()["id"], sched_b.json()["id"]
    schedule_target_b = {"type": "schedule", "id": sid_b}
    pol_b = await client.post(
        "/api/v1/escalation-policies", json=_policy(b, [schedule_target_b]), headers=key_b
    )
    assert pol_b.status_code == 201, pol_b.text
    pid_b = pol_b.json()["id"]

    # Lists: filtered to the caller's team (the admin sees both).
    listed = await client.get("/api/v1/oncall-schedules", headers=key_a)
    assert [s["id"] for s in listed.json()] == [sid_a]
    assert (await client.get("/api/v1/escalation-policies", headers=key_a)).json() == []
    everything = {s["id"] for s in (await client.get("/api/v1/oncall-schedules")).json()}
    assert {sid_a, sid_b} <= everything

    # Every route on team B's schedule and policy: 404 as if missing, naming nothing of B.
    missing_schedule = f"/api/v1/oncall-schedules/{uuid.uuid4()}"
    override = {
        "person": "x",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00Z",
    }
    calls = [
        ("GET", f"/api/v1/oncall-schedules/{sid_b}", None),
        ("GET", f"/api/v1/oncall-schedules/{sid_b}/oncall", None),
        ("PUT", f"/api/v1/oncall-schedules/{sid_b}", _schedule("moved")),
        ("DELETE", f"/api/v1/oncall-schedules/{sid_b}", None),
        ("POST", f"/api/v1/oncall-schedules/{sid_b}/overrides", override),
        ("DELETE", f"/api/v1/oncall-schedules/{sid_b}/overrides/{uuid.uuid4()}", None),
        ("GET", f"/api/v1/escalation-policies/{pid_b}", None),
        (
            "PUT",
            f"/api/v1/escalation-policies/{pid_b}",
            _policy(a, [{"type": "person", "id": "x"}]),
        ),
        ("DELETE", f"/api/v1/escalation-policies/{pid_b}", None),
    ]
    for method, url, body in calls:
        answer = await client.request(method, url, json=body, headers=key_a)
        assert answer.status_code == 404, (method, url, answer.text)
        assert b not in answer.text and "primary" not in answer.text, answer.text
        missing = url.replace(sid_b, str(uuid.uuid4())).replace(pid_b, str(uuid.uuid4()))
        alike = await client.request(method, missing, json=body, headers=key_a)
        assert alike.status_code == 404
    assert (await client.get(missing_schedule, headers=key_a)).status_code == 404

    # Team B's resources are unchanged (still B's, still there).
    assert (await client.get(f"/api/v1/escalation-policies/{pid_b}")).json()["team"] == b
    assert (await client.get(f"/api/v1/oncall-schedules/{sid_b}")).json()["name"] == "primary"

    # A policy targets its own team's schedules only: B's schedule is 400 naming the field,
    # worded as for a missing one.
    crossing = await client.post(
        "/api/v1/escalation-policies", json=_policy(a, [schedule_target_b]), headers=key_a
    )
    assert crossing.status_code == 400, crossing.text
    assert crossing.json()["extra"][0]["key"] == "levels.0.targets.0.id"
    # ... also for a key of every team.
    admin_crossing = await client.post(
        "/api/v1/escalation-policies", json=_policy(a, [schedule_target_b])
    )
    assert admin_crossing.status_code == 400
    own = await client.post(
        "/api/v1/escalation-policies",
        json=_policy(a, [{"type": "schedule", "id": sid_a}]),
        headers=key_a,
    )
    assert own.status_code == 201, own.text

    # Writing for another team: refused, naming only the caller's own team.
    for url, body in (
        ("/api/v1/oncall-schedules", _schedule("x", team=b)),
        ("/api/v1/escalation-policies", _policy(b, [{"type": "person", "id": "x"}])),
    ):
        answer = await client.post(url, json=body, headers=key_a)
        assert answer.status_code == 403, answer.text
        assert answer.json()["extra"][0]["key"] == "team"
    moved = await client.put(
        f"/api/v1/escalation-policies/{own.json()['id']}",
        json=_policy(b, [{"type": "person", "id": "x"}]),
        headers=key_a,
    )
    assert moved.status_code == 403


async def test_a_key_of_every_team_names_the_owning_team(client) -> None:
    answer = await client.post("/api/v1/oncall-schedules", json=_schedule("nobody's"))
    assert answer.status_code == 400
    assert answer.json()["extra"][0]["key"] == "team"


async def test_moving_a_schedule_in_use_to_another_team_is_refused(client, team) -> None:
    sched = await client.post("/api/v1/oncall-schedules", json=_schedule("s", team=team))
    sid = sched.json()["id"]
    target = {"type": "schedule", "id": sid}
    assert (
        await client.post("/api/v1/escalation-policies", json=_policy(team, [target]))
    ).status_code == 201
    moved = await client.put(f"/api/v1/oncall-schedules/{sid}", json=_schedule("s", team="other"))
    assert moved.status_code == 409 and moved.json()["teams"] == [team]


async def test_the_actor_is_the_key_and_the_body_actor_is_kept_beside_it(client, teams) -> None:
    key_a = teams["key_a"]
    name = f"key-{teams['a']}"
    sched = await client.post(
        "/api/v1/oncall-schedules", json=_schedule("s", actor="ceo@company"), headers=key_a
    )
    assert sched.status_code == 201, sched.text
    assert (sched.json()["updated_by"], sched.json()["on_behalf_of"]) == (name, "ceo@company")
    plain = await client.put(
        f"/api/v1/oncall-schedules/{sched.json()['id']}", json=_schedule("s"), headers=key_a
    )
    assert (plain.json()["updated_by"], plain.json()["on_behalf_of"]) == (name, None)
    override = await client.post(
        f"/api/v1/oncall-schedules/{sched.json()['id']}/overrides",
        json={
            "person": "x",
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-02T00:00:00Z",
            "actor": "ceo@company",
        },
        headers=key_a,
    )
    assert (override.json()["created_by"], override.json()["on_behalf_of"]) == (name, "ceo@company")
    policy = await client.post(
        "/api/v1/escalation-policies",
        json=_policy(teams["a"], [{"type": "person", "id": "x"}]) | {"actor": "ceo@company"},
        headers=key_a,
    )
    assert (policy.json()["updated_by"], policy.json()["on_behalf_of"]) == (name, "ceo@company")
