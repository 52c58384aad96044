"""Incident notes over HTTP: write, list (paged, oldest first), read with history, edit by
the author only, the timeline and the event, and Markdown rendered safely."""

from __future__ import annotations

import uuid

import psycopg

from incident_service.auth.schemas import Principal, Scope
from incident_service.notes.service import is_author
from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


async def _incident(client, team: str) -> str:
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


def _key(database_url: str, name: str, team: str | None = None) -> dict[str, str]:
    key = make_api_key(
        database_url, name=name, scopes=["incidents:read", "incidents:write"], team=team
    )
    return {"Authorization": f"Bearer {key}"}


async def test_a_note_is_written_with_its_entry_and_event(client, team) -> None:
    iid = await _incident(client, team)
    body = "Rolled back **deploy 42**; see [the runbook](https://runbooks.example/db)."
    added = await client.post(
        f"/api/v1/incidents/{iid}/notes", json={"body": body, "visibility": "stakeholder"}
    )
    assert added.status_code == 201, added.text
    note = added.json()
    assert note["body"] == body and note["visibility"] == "stakeholder"
    assert "<strong>deploy 42</strong>" in note["body_html"]
    assert '<a href="https://runbooks.example/db">the runbook</a>' in note["body_html"]
    assert note["author"] == "test-admin" and note["author_user_id"] is None
    assert note["edit_count"] == 0
    assert added.headers["location"] == f"/api/v1/incidents/{iid}/notes/{note['id']}"

    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    entry = next(e for e in timeline if e["kind"] == "note")
    assert entry["note"] == body and entry["actor"] == "test-admin"
    assert entry["details"]["note_id"] == note["id"]
    assert entry["details"]["visibility"] == "stakeholder"
    events = await feed_until(
        client, {"incident_id": iid}, lambda es: any("incident_note_added" in e for e in es)
    )
    added_event = next(e["incident_note_added"] for e in events if "incident_note_added" in e)
    assert added_event["note_id"] == note["id"] and added_event["body"] == body


async def test_visibility_defaults_to_internal_and_is_checked(client, team) -> None:
    iid = await _incident(client, team)
    plain = await client.post(f"/api/v1/incidents/{iid}/notes", json={"body": "checking"})
    assert plain.status_code == 201 and plain.json()["visibility"] == "internal"
    for bad, field in (
        ({"body": "x", "visibility": "public"}, "visibility"),
        ({"body": "   "}, "body"),
        ({}, "body"),
        ({"body": "x", "pinned": True}, "pinned"),
    ):
        answer = await client.post(f"/api/v1/incidents/{iid}/notes", json=bad)
        assert answer.status_code == 400, answer.text
        assert field in answer.text


async def test_hostile_markdown_is_escaped_in_the_answer(client, team) -> None:
    iid = await _incident(client, team)
    hostile = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
        "[click me](javascript:alert(3))"
    )
    note = (await client.post(f"/api/v1/incidents/{iid}/notes", json={"body": hostile})).json()
    html = note["body_html"]
    assert note["body"] == hostile
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert 'href="javascript:' not in html and "[click me](javascript:alert(3))" in html
    listed = (await client.get(f"/api/v1/incidents/{iid}/notes")).json()
    assert listed[0]["body_html"] == html


async def test_notes_are_listed_oldest_first_in_pages(client, team) -> None:
    iid = await _incident(client, team)
    for n in range(5):
        await client.post(f"/api/v1/incidents/{iid}/notes", json={"body": f"note {n}"})
    seen: list[str] = []
    url: str | None = f"/api/v1/incidents/{iid}/notes?limit=2"
    pages = 0
    while url:
        page = await client.get(url)
        assert page.status_code == 200, page.text
        seen += [n["body"] for n in page.json()]
        pages += 1
        link = page.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    assert seen == [f"note {n}" for n in range(5)] and pages == 3
    bad = await client.get(f"/api/v1/incidents/{iid}/notes?cursor=garbage")
    assert bad.status_code == 400 and "cursor" in bad.text


async def test_the_author_edits_and_history_is_kept(client, database_url, team) -> None:
    iid = await _incident(client, team)
    author = _key(database_url, "scribe")
    note = (
        await client.post(
            f"/api/v1/incidents/{iid}/notes", json={"body": "first draft"}, headers=author
        )
    ).json()
    url = f"/api/v1/incidents/{iid}/notes/{note['id']}"
    edited = await client.patch(url, json={"body": "second *draft*"}, headers=author)
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == "second *draft*" and edited.json()["edit_count"] == 1
    assert "<em>draft</em>" in edited.json()["body_html"]
    await client.patch(url, json={"body": "final"}, headers=author)
    # The same body again records nothing.
    same = await client.patch(url, json={"body": "final"}, headers=author)
    assert same.status_code == 200 and same.json()["edit_count"] == 2

    got = (await client.get(url)).json()
    assert got["body"] == "final"
    assert [(h["previous_body"], h["edited_by"]) for h in got["history"]] == [
        ("first draft", "scribe"),
        ("second *draft*", "scribe"),
    ]
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    edits = [e for e in timeline if e["kind"] == "note_edited"]
    assert [e["note"] for e in edits] == ["second *draft*", "final"]
    assert all(e["details"]["note_id"] == note["id"] for e in edits)
    events = await feed_until(
        client,
        {"incident_id": iid},
        lambda es: sum("incident_note_edited" in e for e in es) >= 2,
    )
    assert [
        e["incident_note_edited"]["edit_count"] for e in events if "incident_note_edited" in e
    ] == [1, 2]
    # The list shows notes without their history.
    assert "history" not in (await client.get(f"/api/v1/incidents/{iid}/notes")).json()[0]


async def test_someone_else_cannot_edit_a_note(client, database_url, team) -> None:
    iid = await _incident(client, team)
    author = _key(database_url, "author-key")
    note = (
        await client.post(f"/api/v1/incidents/{iid}/notes", json={"body": "mine"}, headers=author)
    ).json()
    url = f"/api/v1/incidents/{iid}/notes/{note['id']}"
    for other in (_key(database_url, "someone-else"), {}):  # another key; the admin
        refused = await client.patch(url, json={"body": "theirs"}, headers=other)
        assert refused.status_code == 403, refused.text
    got = (await client.get(url)).json()
    assert got["body"] == "mine" and got["history"] == []


def test_authorship_is_by_user_when_the_note_names_one() -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()

    def principal(name: str, user_id: uuid.UUID | None) -> Principal:
        return Principal(uuid.uuid4(), name, frozenset({Scope.ADMIN}), None, None, user_id)

    by_alice = {"author": "Alice", "author_user_id": alice}
    assert is_author(by_alice, principal("Alice's other key", alice))
    assert not is_author(by_alice, principal("Alice", bob))
    assert not is_author(by_alice, principal("Alice", None))
    by_key = {"author": "deploy-bot", "author_user_id": None}
    assert is_author(by_key, principal("deploy-bot", None))
    assert not is_author(by_key, principal("deploy-bot", alice))


async def test_another_teams_notes_are_404(client, database_url, team) -> None:
    iid = await _incident(client, team)
    note = (await client.post(f"/api/v1/incidents/{iid}/notes", json={"body": "b"})).json()
    intruder = _key(database_url, "intruder", team=f"{team}-x")
    for method, path, body in (
        ("GET", f"/api/v1/incidents/{iid}/notes", None),
        ("POST", f"/api/v1/incidents/{iid}/notes", {"body": "x"}),
        ("GET", f"/api/v1/incidents/{iid}/notes/{note['id']}", None),
        ("PATCH", f"/api/v1/incidents/{iid}/notes/{note['id']}", {"body": "x"}),
    ):
        answer = await client.request(method, path, json=body, headers=intruder)
        assert answer.status_code == 404, (method, path, answer.text)
    # A note id under another incident is not found either.
    other = await _incident(client, team)
    assert (await client.get(f"/api/v1/incidents/{other}/notes/{note['id']}")).status_code == 404


async def test_a_status_change_note_is_still_recorded(client, database_url, team) -> None:
    iid = await _incident(client, team)
    await client.put(f"/api/v1/incidents/{iid}/status", json={"status": "OPEN", "note": "still"})
    moved = await client.put(
        f"/api/v1/incidents/{iid}/status", json={"status": "ACKNOWLEDGED", "note": "on it"}
    )
    assert moved.status_code == 200
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert ("note", "still") in [(e["kind"], e["note"]) for e in timeline]
    assert ("status_changed", "on it") in [(e["kind"], e["note"]) for e in timeline]
    with psycopg.connect(database_url) as conn:
        count = conn.execute(
            "select count(*) from incident_notes where incident_id = %s", (iid,)
        ).fetchone()
    assert count == (0,)
