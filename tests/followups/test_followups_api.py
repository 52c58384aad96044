"""Follow-ups over HTTP: create, list, change along the state table, the organisation-wide
list with its filters and paging, and what a team-restricted key may see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from incident_service.followups.lifecycle import ALLOWED, FollowUpState
from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident
from tests.followups.conftest import make_user


async def _incident(client, team: str) -> str:
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def _follow_up(client, incident_id: str, **body: object) -> dict[str, Any]:
    body = {"title": "Cap the pool size", **body}
    created = await client.post(f"/api/v1/incidents/{incident_id}/follow-ups", json=body)
    assert created.status_code == 201, created.text
    follow_up: dict[str, Any] = created.json()
    return follow_up


async def test_create_list_and_record_on_the_timeline_and_feed(
    client, team: str, database_url: str
) -> None:
    incident_id = await _incident(client, team)
    owner = make_user(database_url, "Bob Owner")
    fu = await _follow_up(client, incident_id, owner_id=owner, due="2030-01-15", priority="high")
    assert fu["state"] == "open" and fu["priority"] == "high"
    assert fu["owner_id"] == owner and fu["owner_name"] == "Bob Owner"
    assert fu["due"] == "2030-01-15"
    assert fu["due_at"].startswith("2030-01-16T00:00:00")  # the end of the due day, UTC
    assert fu["overdue"] is False and fu["team"] == team and fu["external_issue"] is None
    timed = await _follow_up(client, incident_id, due="2030-01-15T17:30:00+02:00")
    assert timed["due_at"].startswith("2030-01-15T15:30:00")
    assert timed["priority"] == "medium" and timed["owner_id"] is None

    listed = (await client.get(f"/api/v1/incidents/{incident_id}/follow-ups")).json()
    assert [f["follow_up_id"] for f in listed] == [fu["follow_up_id"], timed["follow_up_id"]]
    one = await client.get(f"/api/v1/follow-ups/{fu['follow_up_id']}")
    assert one.status_code == 200 and one.json() == fu

    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    created = [e for e in timeline if e["kind"] == "follow_up_created"]
    assert [e["details"]["follow_up_id"] for e in created] == [
        fu["follow_up_id"],
        timed["follow_up_id"],
    ]
    assert created[0]["note"] == "Cap the pool size" and created[0]["actor"] == "test-admin"
    events = await feed_until(
        client,
        {"incident_id": incident_id},
        lambda es: sum("follow_up_created" in e for e in es) == 2,
    )
    event = next(e["follow_up_created"] for e in events if "follow_up_created" in e)
    assert event["follow_up_id"] == fu["follow_up_id"]
    assert event["assigned_team"] == team and event["actor"] == "test-admin"


async def test_unknown_incident_is_404_and_bad_bodies_are_400_naming_the_field(
    client, team: str, database_url: str
) -> None:
    missing = await client.post("/api/v1/incidents/NOPE-1/follow-ups", json={"title": "x"})
    assert missing.status_code == 404
    assert (await client.get("/api/v1/incidents/NOPE-1/follow-ups")).status_code == 404
    incident_id = await _incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/follow-ups"
    gone = make_user(database_url, deactivated=True)
    for body, field in [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x", "owner_id": "00000000-0000-4000-8000-000000000000"}, "owner_id"),
        ({"title": "x", "owner_id": gone}, "owner_id"),
        ({"title": "x", "owner_id": "bob"}, "owner_id"),
        ({"title": "x", "due": "soon"}, "due"),
        ({"title": "x", "due": "2030-02-30"}, "due"),
        ({"title": "x", "due": "9999-12-31"}, "due"),
        ({"title": "x", "priority": "p0"}, "priority"),
        ({"title": "x", "state": "done"}, "state"),
    ]:
        answer = await client.post(url, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.text, (body, answer.text)
    assert (await client.get(url)).json() == []


@pytest.mark.parametrize("current", list(FollowUpState))
@pytest.mark.parametrize("target", list(FollowUpState))
def test_the_state_table(current: FollowUpState, target: FollowUpState) -> None:
    # Ended follow-ups only reopen; work in progress may stop; nothing else is refused.
    expected = {
        FollowUpState.OPEN: {"in_progress", "done", "wont_do"},
        FollowUpState.IN_PROGRESS: {"open", "done", "wont_do"},
        FollowUpState.DONE: {"open"},
        FollowUpState.WONT_DO: {"open"},
    }[current]
    assert (target in ALLOWED[current]) == (target.value in expected)


async def test_states_move_by_the_table_and_illegal_moves_are_409(
    client, team: str, database_url: str
) -> None:
    incident_id = await _incident(client, team)
    fu = await _follow_up(client, incident_id)
    url = f"/api/v1/follow-ups/{fu['follow_up_id']}"

    started = await client.patch(url, json={"state": "in_progress"})
    assert started.status_code == 200 and started.json()["state"] == "in_progress"
    done = (await client.patch(url, json={"state": "done"})).json()
    assert done["state"] == "done" and done["completed_at"] is not None

    illegal = await client.patch(url, json={"state": "in_progress"})
    assert illegal.status_code == 409, illegal.text
    body = illegal.json()
    assert body["current_state"] == "done" and body["allowed"] == ["open"]
    assert "in_progress" in body["detail"]

    again = await client.patch(url, json={"state": "done"})  # the same state: no move
    assert again.status_code == 200 and again.json()["updated_at"] == done["updated_at"]
    reopened = (await client.patch(url, json={"state": "open"})).json()
    assert reopened["state"] == "open" and reopened["completed_at"] is None
    withdrawn = (await client.patch(url, json={"state": "wont_do"})).json()
    assert withdrawn["state"] == "wont_do"
    assert (await client.patch(url, json={"state": "done"})).status_code == 409

    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    moves = [
        (e["details"]["from_state"], e["details"]["to_state"])
        for e in timeline
        if e["kind"] == "follow_up_updated"
    ]
    assert moves == [
        ("open", "in_progress"),
        ("in_progress", "done"),
        ("done", "open"),
        ("open", "wont_do"),
    ]
    events = await feed_until(
        client,
        {"incident_id": incident_id},
        lambda es: sum("follow_up_updated" in e for e in es) == 4,
    )
    updated = [e["follow_up_updated"] for e in events if "follow_up_updated" in e]
    assert [(p["from_state"], p["to_state"]) for p in updated] == moves


async def test_patch_changes_only_what_is_sent(client, team: str, database_url: str) -> None:
    incident_id = await _incident(client, team)
    owner = make_user(database_url)
    fu = await _follow_up(client, incident_id, due="2030-03-01", priority="low")
    url = f"/api/v1/follow-ups/{fu['follow_up_id']}"
    changed = await client.patch(url, json={"owner_id": owner, "title": "Renamed"})
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["owner_id"], got["title"], got["due"], got["priority"]) == (
        owner,
        "Renamed",
        "2030-03-01",
        "low",
    )
    cleared = (await client.patch(url, json={"owner_id": None, "due": None})).json()
    assert cleared["owner_id"] is None and cleared["due"] is None and cleared["title"] == "Renamed"
    for body, field in [
        ({"owner_id": "00000000-0000-4000-8000-000000000000"}, "owner_id"),
        ({"state": None}, "state"),
        ({"title": None}, "title"),
        ({"state": "closed"}, "state"),
        ({"colour": "red"}, "colour"),
    ]:
        answer = await client.patch(url, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.text
    missing = await client.patch(
        "/api/v1/follow-ups/00000000-0000-4000-8000-000000000000", json={"state": "done"}
    )
    assert missing.status_code == 404
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    changes = [e["details"]["changed"] for e in timeline if e["kind"] == "follow_up_updated"]
    assert changes == [["owner_id", "title"], ["due_at", "owner_id"]]


async def test_overdue_owner_state_filters_and_paging(client, team: str, database_url: str) -> None:
    incident_id = await _incident(client, team)
    owner = make_user(database_url)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    late = await _follow_up(client, incident_id, title="late", due=yesterday, owner_id=owner)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    late_timed = await _follow_up(client, incident_id, title="late timed", due=an_hour_ago)
    assert late_timed["overdue"] is True
    await _follow_up(client, incident_id, title="today", due=date.today().isoformat())
    await _follow_up(client, incident_id, title="no due date")
    late_but_done = await _follow_up(client, incident_id, title="late, done", due=yesterday)
    moved = await client.patch(
        f"/api/v1/follow-ups/{late_but_done['follow_up_id']}", json={"state": "done"}
    )
    assert moved.status_code == 200

    async def titles(**params: object) -> list[str]:
        answer = await client.get("/api/v1/follow-ups", params={"team": team, **params})
        assert answer.status_code == 200, answer.text
        return [f["title"] for f in answer.json()]

    assert await titles(overdue="true") == ["late timed", "late"]
    assert (await client.get(f"/api/v1/follow-ups/{late['follow_up_id']}")).json()["overdue"]
    assert await titles(overdue="false") == ["late, done", "no due date", "today"]
    assert await titles(owner_id=owner) == ["late"]
    assert await titles(state="done") == ["late, done"]
    assert await titles(state="open", overdue="true", owner_id=owner) == ["late"]

    first = await client.get("/api/v1/follow-ups", params={"team": team, "limit": 2})
    assert len(first.json()) == 2
    link = first.headers["link"]
    assert link.endswith('rel="next"')
    second = await client.get(link[1 : link.index(">")])
    third_link = second.headers["link"]
    third = await client.get(third_link[1 : third_link.index(">")])
    seen = [f["title"] for f in first.json() + second.json() + third.json()]
    assert seen == ["late, done", "no due date", "today", "late timed", "late"]
    assert "link" not in third.headers
    bad = await client.get("/api/v1/follow-ups", params={"cursor": "garbage"})
    assert bad.status_code == 400 and "cursor" in bad.text


async def test_team_keys_see_and_change_their_teams_follow_ups_only(
    client, team: str, database_url: str
) -> None:
    other_team = f"{team}-other"
    mine = await _follow_up(client, await _incident(client, team), title="mine")
    theirs = await _follow_up(client, await _incident(client, other_team), title="theirs")
    key = make_api_key(
        database_url, name="team-writer", scopes=["incidents:read", "incidents:write"], team=team
    )
    headers = {"Authorization": f"Bearer {key}"}

    listed = await client.get("/api/v1/follow-ups", headers=headers)
    assert [f["title"] for f in listed.json()] == ["mine"]
    asked = await client.get("/api/v1/follow-ups", params={"team": other_team}, headers=headers)
    assert asked.status_code == 200 and asked.json() == []
    by_incident = await client.get(
        "/api/v1/follow-ups", params={"incident_id": theirs["incident_id"]}, headers=headers
    )
    assert by_incident.json() == []

    their_url = f"/api/v1/follow-ups/{theirs['follow_up_id']}"
    assert (await client.get(their_url, headers=headers)).status_code == 404
    patched = await client.patch(their_url, json={"state": "done"}, headers=headers)
    assert patched.status_code == 404 and "theirs" not in patched.text
    incident_url = f"/api/v1/incidents/{theirs['incident_id']}/follow-ups"
    assert (await client.get(incident_url, headers=headers)).status_code == 404
    posted = await client.post(incident_url, json={"title": "planted"}, headers=headers)
    assert posted.status_code == 404
    assert (await client.get(their_url)).json()["state"] == "open"

    own = await client.patch(
        f"/api/v1/follow-ups/{mine['follow_up_id']}", json={"state": "done"}, headers=headers
    )
    assert own.status_code == 200
    timeline = (await client.get(f"/api/v1/incidents/{mine['incident_id']}/timeline")).json()
    assert timeline[-1]["kind"] == "follow_up_updated" and timeline[-1]["actor"] == "team-writer"


def test_the_database_checks_exactly_the_states(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select pg_get_constraintdef(c.oid) from pg_constraint c join pg_class t"
            " on t.oid = c.conrelid where t.relname = 'follow_ups'"
            " and pg_get_constraintdef(c.oid) like '%%state%%'"
        ).fetchone()
    assert row is not None
    import re

    assert re.findall(r"'([^']*)'", row[0]) == [s.value for s in FollowUpState]
