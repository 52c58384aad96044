"""Editing an incident: PATCH /api/v1/incidents/{id} over HTTP, its records, its ETag."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from incident_service.db import PSYCOPG_CACHED_STATEMENT_CHARS
from incident_service.incidents import repository
from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


def make_user(database_url: str, name: str, *, deactivated: bool = False) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "insert into users (name, created_by, deactivated_at)"
            " values (%s, 'tests', case when %s then now() end) returning id",
            (name, deactivated),
        ).fetchone()
        conn.commit()
    assert row is not None
    return str(row[0])


async def _open(client, team: str, **overrides) -> dict:
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    return created.json()


def _field_entries(timeline: list[dict]) -> list[dict]:
    return [e for e in timeline if e["kind"] == "field_changed"]


async def test_patch_changes_fields_with_one_entry_and_event_each(
    client, database_url, team
) -> None:
    incident = await _open(client, team, severity="SEV4_LOW")
    iid = incident["incident_id"]
    assert incident["version"] == 1 and incident["assignee_id"] is None
    alice = make_user(database_url, "Alice Example")
    body = {
        "title": "Checkout errors",
        "description": "5xx on /pay",
        "assignee": alice,
        "affected_services": ["checkout", "payments"],
        "labels": {"env": "prod"},
        "severity": "SEV4_LOW",  # its current value: recorded nowhere
    }
    edited = await client.patch(f"/api/v1/incidents/{iid}", json=body)
    assert edited.status_code == 200, edited.text
    got = edited.json()
    assert got["title"] == "Checkout errors" and got["description"] == "5xx on /pay"
    assert got["assignee"] == "Alice Example" and got["assignee_id"] == alice
    assert got["affected_services"] == ["checkout", "payments"]
    assert got["labels"] == {"env": "prod"}
    assert got["version"] == 2
    assert edited.headers["etag"] == '"2"'

    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    entries = _field_entries(timeline)
    assert [e["details"]["field"] for e in entries] == [
        "title",
        "description",
        "assignee",
        "affected_services",
        "labels",
    ]
    title = entries[0]
    assert title["details"]["old"] == "Portfolio Management Service High Latency"
    assert title["details"]["new"] == "Checkout errors"
    assert title["actor"] == "test-admin"
    assignee = entries[2]["details"]
    assert assignee["old"] is None and assignee["new"] == alice
    assert assignee["new_name"] == "Alice Example"

    events = await feed_until(
        client,
        {"incident_id": iid},
        lambda es: sum("incident_updated" in e for e in es) >= 5,
    )
    updated = [e["incident_updated"] for e in events if "incident_updated" in e]
    assert [e["field"] for e in updated] == [e["details"]["field"] for e in entries]
    assert updated[2]["new"] == alice and updated[2]["new_name"] == "Alice Example"
    labels = updated[-1]
    assert labels["old"] == {} and labels["new"] == {"env": "prod"} and labels["version"] == 2


async def test_a_patch_that_changes_nothing_writes_nothing(client, database_url, team) -> None:
    incident = await _open(client, team)
    iid = incident["incident_id"]
    same = {
        "title": incident["title"],
        "severity": incident["severity"],
        "assignee": None,
        "labels": {},
    }
    with psycopg.connect(database_url) as conn:
        before = conn.execute(
            "select (select count(*) from incident_timeline where incident_id = %(i)s),"
            " (select count(*) from outbox where incident_id = %(i)s)",
            {"i": iid},
        ).fetchone()
    answer = await client.patch(f"/api/v1/incidents/{iid}", json=same)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 1 and answer.json()["updated_at"] == incident["updated_at"]
    assert answer.headers["etag"] == '"1"'
    empty = await client.patch(f"/api/v1/incidents/{iid}", json={})
    assert empty.status_code == 200 and empty.json()["version"] == 1
    with psycopg.connect(database_url) as conn:
        after = conn.execute(
            "select (select count(*) from incident_timeline where incident_id = %(i)s),"
            " (select count(*) from outbox where incident_id = %(i)s)",
            {"i": iid},
        ).fetchone()
    assert after == before


async def test_if_match_stale_is_412_and_current_applies(client, team) -> None:
    iid = (await _open(client, team))["incident_id"]
    read = await client.get(f"/api/v1/incidents/{iid}")
    assert read.headers["etag"] == '"1"'
    first = await client.patch(
        f"/api/v1/incidents/{iid}", json={"title": "first"}, headers={"If-Match": '"1"'}
    )
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    stale = await client.patch(
        f"/api/v1/incidents/{iid}", json={"title": "second"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"].startswith("application/json")
    assert stale.json()["current_version"] == 2 and stale.json()["status_code"] == 412
    assert (await client.get(f"/api/v1/incidents/{iid}")).json()["title"] == "first"
    # Weak form and lists are read; without If-Match the last write wins.
    weak = await client.patch(
        f"/api/v1/incidents/{iid}", json={"title": "third"}, headers={"If-Match": 'W/"9", W/"2"'}
    )
    assert weak.status_code == 200 and weak.json()["version"] == 3
    blind = await client.patch(f"/api/v1/incidents/{iid}", json={"title": "fourth"})
    assert blind.status_code == 200 and blind.json()["version"] == 4
    garbage = await client.patch(
        f"/api/v1/incidents/{iid}", json={"title": "x"}, headers={"If-Match": "nonsense"}
    )
    assert garbage.status_code == 412


async def test_status_changes_bump_the_version_and_honour_if_match(client, team) -> None:
    iid = (await _open(client, team))["incident_id"]
    moved = await client.put(f"/api/v1/incidents/{iid}/status", json={"status": "ACKNOWLEDGED"})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert moved.headers["etag"] == '"2"'
    stale = await client.patch(
        f"/api/v1/incidents/{iid}", json={"title": "late"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    stale_move = await client.put(
        f"/api/v1/incidents/{iid}/status",
        json={"status": "INVESTIGATING"},
        headers={"If-Match": '"1"'},
    )
    assert stale_move.status_code == 412
    assert (await client.get(f"/api/v1/incidents/{iid}")).json()["status"] == "ACKNOWLEDGED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": "P1"}, "priority"),
        ({"severity": "SEV9"}, "severity"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"assigned_team": None}, "assigned_team"),
        ({"labels": {"bad key!": "x"}}, "labels"),
        ({"affected_services": "api"}, "affected_services"),
        ({"assignee": "not-a-uuid"}, "assignee"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(client, team, body, field) -> None:
    iid = (await _open(client, team))["incident_id"]
    answer = await client.patch(f"/api/v1/incidents/{iid}", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.text


async def test_unknown_or_deactivated_user_is_400_naming_assignee(
    client, database_url, team
) -> None:
    iid = (await _open(client, team))["incident_id"]
    gone = make_user(database_url, "Gone", deactivated=True)
    for user in (str(uuid.uuid4()), gone):
        answer = await client.patch(f"/api/v1/incidents/{iid}", json={"assignee": user})
        assert answer.status_code == 400, answer.text
        assert answer.json()["extra"][0]["key"] == "assignee"
    assert (await client.get(f"/api/v1/incidents/{iid}")).json()["version"] == 1


async def test_unassign_with_null(client, database_url, team) -> None:
    bob = make_user(database_url, "Bob")
    iid = (await _open(client, team))["incident_id"]
    await client.patch(f"/api/v1/incidents/{iid}", json={"assignee": bob})
    cleared = await client.patch(f"/api/v1/incidents/{iid}", json={"assignee": None})
    assert cleared.status_code == 200
    assert cleared.json()["assignee"] is None and cleared.json()["assignee_id"] is None
    entries = _field_entries((await client.get(f"/api/v1/incidents/{iid}/timeline")).json())
    assert [(e["details"]["old"], e["details"]["new"]) for e in entries] == [
        (None, bob),
        (bob, None),
    ]


async def test_unknown_incident_is_404(client) -> None:
    answer = await client.patch("/api/v1/incidents/INC-19990101-001", json={"title": "x"})
    assert answer.status_code == 404


async def test_team_moves_need_both_teams(client, database_url, team) -> None:
    other = f"{team}-other"
    iid = (await _open(client, team))["incident_id"]
    own_key = make_api_key(database_url, name="team-key", scopes=["incidents:write"], team=team)
    headers = {"Authorization": f"Bearer {own_key}"}
    # To a team the key does not see: 403 naming the field; nothing changes.
    away = await client.patch(
        f"/api/v1/incidents/{iid}", json={"assigned_team": other}, headers=headers
    )
    assert away.status_code == 403, away.text
    assert away.json()["extra"][0]["key"] == "assigned_team"
    # An admin moves it; the team key no longer sees it: 404, as for any other team's.
    moved = await client.patch(f"/api/v1/incidents/{iid}", json={"assigned_team": other})
    assert moved.status_code == 200 and moved.json()["assigned_team"] == other
    back = await client.patch(
        f"/api/v1/incidents/{iid}", json={"assigned_team": team}, headers=headers
    )
    assert back.status_code == 404
    assert (await client.get(f"/api/v1/incidents/{iid}")).json()["assigned_team"] == other
    # A key of the new team edits it.
    other_key = make_api_key(database_url, name="other-key", scopes=["incidents:write"], team=other)
    renamed = await client.patch(
        f"/api/v1/incidents/{iid}",
        json={"title": "now theirs"},
        headers={"Authorization": f"Bearer {other_key}"},
    )
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "now theirs"


def test_the_edit_statement_is_cached_by_psycopg() -> None:
    assert len(repository._EDIT) < PSYCOPG_CACHED_STATEMENT_CHARS


async def test_concurrent_edits_of_one_version_one_wins(client, team) -> None:
    import asyncio

    iid = (await _open(client, team))["incident_id"]
    answers = await asyncio.gather(
        *(
            client.patch(
                f"/api/v1/incidents/{iid}", json={"title": f"edit {n}"}, headers={"If-Match": '"1"'}
            )
            for n in range(4)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 412, 412, 412], [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 200)
    final = (await client.get(f"/api/v1/incidents/{iid}")).json()
    assert final["title"] == winner["title"] and final["version"] == 2
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert len(_field_entries(timeline)) == 1
