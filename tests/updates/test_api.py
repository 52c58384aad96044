"""Stakeholder updates and update cadences over HTTP, on the real migrations."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import psycopg
from litestar.testing import AsyncTestClient

from incident_service.updates.schemas import PublicStatus
from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


async def _incident(client: AsyncTestClient, team: str, **overrides: object) -> str:  # type: ignore[type-arg]
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_an_update_is_recorded_rendered_and_listed_newest_first(
    client: AsyncTestClient,  # type: ignore[type-arg]
    team: str,
) -> None:
    iid = await _incident(client, team, severity="SEV1_CRITICAL")
    message = (
        "**Checkout is degraded.** <script>alert(1)</script> "
        "[status](javascript:alert(1)) [runbook](https://example.com/rb)"
    )
    first = await client.post(
        f"/api/v1/incidents/{iid}/updates", json={"status": "investigating", "message": message}
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "investigating"
    assert body["message"] == message
    html = body["message_html"]
    assert "<strong>Checkout is degraded.</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert '<a href="https://example.com/rb">runbook</a>' in html
    assert body["author"] == {"name": "test-admin", "user_id": None}
    assert body["severity"] == "SEV1_CRITICAL" and body["incident_status"] == "OPEN"
    # SEV1's default cadence: the next update is due 30 minutes after this one.
    due = _at(body["next_update_due_at"]) - _at(body["posted_at"])
    assert due == timedelta(minutes=30)

    # No status given: the incident's own, in the public vocabulary.
    moved = await client.put(f"/api/v1/incidents/{iid}/status", json={"status": "IDENTIFIED"})
    assert moved.status_code == 200, moved.text
    second = await client.post(
        f"/api/v1/incidents/{iid}/updates", json={"message": "Cause found: a bad deploy."}
    )
    assert second.status_code == 201, second.text
    assert second.json()["status"] == "identified"

    listed = await client.get(f"/api/v1/incidents/{iid}/updates")
    assert listed.status_code == 200, listed.text
    assert [u["id"] for u in listed.json()] == [second.json()["id"], body["id"]]
    assert listed.json()[1]["message_html"] == html
    page = await client.get(
        f"/api/v1/incidents/{iid}/updates", params={"limit": 1, "before": second.json()["id"]}
    )
    assert [u["id"] for u in page.json()] == [body["id"]]

    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    entries = [e for e in timeline if e["kind"] == "stakeholder_update"]
    assert [e["note"] for e in entries] == [message, "Cause found: a bad deploy."]
    assert all(e["actor"] == "test-admin" for e in entries)

    events = await feed_until(
        client,
        {"incident_id": iid, "limit": 1000},
        lambda evs: sum("incident_update_posted" in e for e in evs) == 2,
    )
    posted = [e["incident_update_posted"] for e in events if "incident_update_posted" in e]
    assert [p["update_id"] for p in posted] == [body["id"], second.json()["id"]]
    assert posted[0]["message"] == message and posted[0]["status"] == "investigating"
    assert posted[0]["assigned_team"] == team and posted[0]["actor"] == "test-admin"


async def test_refusals_name_the_problem(
    client: AsyncTestClient,  # type: ignore[type-arg]
    team: str,
) -> None:
    iid = await _incident(client, team)
    bad = await client.post(
        f"/api/v1/incidents/{iid}/updates", json={"status": "degraded", "message": "x"}
    )
    assert bad.status_code == 400 and "status" in bad.text, bad.text
    blank = await client.post(f"/api/v1/incidents/{iid}/updates", json={"message": " \u200b"})
    assert blank.status_code == 400 and "message" in blank.text, blank.text
    missing = await client.post("/api/v1/incidents/INC-19990101-999/updates", json={"message": "x"})
    assert missing.status_code == 404, missing.text
    listed = await client.get("/api/v1/incidents/INC-19990101-999/updates")
    assert listed.status_code == 404, listed.text

    for status in ("RESOLVED", "CLOSED"):
        moved = await client.put(f"/api/v1/incidents/{iid}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
        answer = await client.post(f"/api/v1/incidents/{iid}/updates", json={"message": "done"})
        if status == "RESOLVED":  # the final word after resolving is usual
            assert answer.status_code == 201, answer.text
            assert answer.json()["status"] == "resolved"
            assert answer.json()["next_update_due_at"] is None
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["current_status"] == "CLOSED"
    assert len((await client.get(f"/api/v1/incidents/{iid}/updates")).json()) == 1


async def test_a_team_sets_its_cadence_and_updates_follow_it(
    client: AsyncTestClient,  # type: ignore[type-arg]
    team: str,
) -> None:
    path = f"/api/v1/teams/{team}/update-cadence"
    default = await client.get(path)
    assert default.status_code == 200, default.text
    assert default.json()["every_minutes"] == {
        "SEV1_CRITICAL": 30,
        "SEV2_HIGH": 60,
        "SEV3_MEDIUM": 240,
        "SEV4_LOW": None,
    }
    assert default.json()["defaulted"] == ["SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW"]
    assert default.json()["updated_by"] is None

    put = await client.put(
        path, json={"every_minutes": {"SEV2_HIGH": 15, "SEV3_MEDIUM": None, "SEV4_LOW": 720}}
    )
    assert put.status_code == 200, put.text
    assert put.json()["every_minutes"] == {
        "SEV1_CRITICAL": 30,
        "SEV2_HIGH": 15,
        "SEV3_MEDIUM": None,
        "SEV4_LOW": 720,
    }
    assert put.json()["defaulted"] == ["SEV1_CRITICAL"]
    assert put.json()["updated_by"] == "test-admin"
    assert (await client.get(path)).json() == put.json()

    iid = await _incident(client, team, severity="SEV2_HIGH")
    posted = (await client.post(f"/api/v1/incidents/{iid}/updates", json={"message": "m"})).json()
    assert _at(posted["next_update_due_at"]) - _at(posted["posted_at"]) == timedelta(minutes=15)
    quiet = await _incident(client, team, severity="SEV3_MEDIUM")
    posted = (await client.post(f"/api/v1/incidents/{quiet}/updates", json={"message": "m"})).json()
    assert posted["next_update_due_at"] is None

    # A PUT replaces the whole cadence: what it leaves out goes back to the default.
    reset = await client.put(path, json={"every_minutes": {}})
    assert reset.json()["defaulted"] == ["SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW"]

    for body, field in (
        ({"every_minutes": {"SEV1_CRITICAL": 0}}, "SEV1_CRITICAL"),
        ({"every_minutes": {"SEV5": 10}}, "SEV5"),
        ({"every_minutes": {"SEV1_CRITICAL": 20_000}}, "SEV1_CRITICAL"),
        ({}, "every_minutes"),
    ):
        refused = await client.put(path, json=body)
        assert refused.status_code == 400 and field in refused.text, refused.text


async def test_cadence_is_team_scoped_and_needs_config_write(
    client: AsyncTestClient,  # type: ignore[type-arg]
    database_url: str,
    team: str,
) -> None:
    other = f"{team}-other"
    own_key = make_api_key(
        database_url, name="team-config", scopes=["incidents:read", "config:write"], team=team
    )
    writer = make_api_key(database_url, name="writer", scopes=["incidents:write"], team=team)
    own = {"Authorization": f"Bearer {own_key}"}
    body = {"every_minutes": {"SEV1_CRITICAL": 10}}

    mine = await client.put(f"/api/v1/teams/{team}/update-cadence", json=body, headers=own)
    assert mine.status_code == 200, mine.text
    for method in ("GET", "PUT"):
        answer = await client.request(
            method,
            f"/api/v1/teams/{other}/update-cadence",
            json=body if method == "PUT" else None,
            headers=own,
        )
        assert answer.status_code == 404, answer.text
    assert (await client.get(f"/api/v1/teams/{other}/update-cadence")).json()["defaulted"] == [
        "SEV1_CRITICAL",
        "SEV2_HIGH",
        "SEV3_MEDIUM",
        "SEV4_LOW",
    ]
    refused = await client.put(
        f"/api/v1/teams/{team}/update-cadence",
        json=body,
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert refused.status_code == 403, refused.text


async def test_the_public_statuses_are_the_ones_the_database_checks(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "select pg_get_constraintdef(c.oid) from pg_constraint c"
            " join pg_class t on t.oid = c.conrelid"
            " where t.relname = 'incident_updates' and c.contype = 'c'"
        )
        row = await cur.fetchone()
    assert row is not None
    assert re.findall(r"'([^']*)'", row[0]) == [s.value for s in PublicStatus]
