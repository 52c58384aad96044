"""The post-mortem's review states over HTTP: draft -> in_review -> published, publishing
refused while a follow-up has no owner, a published version frozen and readable, the next
version started by any later change, and the action items read from the follow-ups."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from incident_service.postmortems.lifecycle import ALLOWED, PostmortemState
from tests.conftest import feed_until
from tests.followups.conftest import make_user
from tests.postmortems.test_postmortem_api import _resolved_incident

FACTOR = "A config push raised the pool size past the database's limit"
REVIEW: dict[str, Any] = {
    "contributing_factors": ["A config push raised the pool size past the database's limit"],
    "action_items": [{"action": "Cap the pool size", "owner": "bob", "due": "2030-12-15"}],
}


async def _move(client, incident_id: str, state: str, expect: int = 200):
    answer = await client.put(
        f"/api/v1/incidents/{incident_id}/postmortem/state", json={"state": state}
    )
    assert answer.status_code == expect, answer.text
    return answer.json()


@pytest.mark.parametrize("current", list(PostmortemState))
def test_the_state_table(current: PostmortemState) -> None:
    expected = {
        PostmortemState.DRAFT: {"in_review"},
        PostmortemState.IN_REVIEW: {"draft", "published"},
        PostmortemState.PUBLISHED: {"draft"},
    }[current]
    assert {s.value for s in ALLOWED[current]} == expected


async def test_publish_needs_owners_then_freezes_a_version(
    client, team: str, database_url: str
) -> None:
    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    assert (await client.put(f"{url}/review", json=REVIEW)).status_code == 200
    added = await client.post(
        f"/api/v1/incidents/{incident_id}/follow-ups", json={"title": "Alert on refusals"}
    )
    assert added.status_code == 201
    draft = (await client.get(url)).json()
    assert (draft["state"], draft["version"]) == ("draft", 1)
    assert draft["action_items"] == [
        "Cap the pool size (owner: bob, due 2030-12-15)",
        "Alert on refusals (owner: unassigned)",
    ]

    skipped = await _move(client, incident_id, "published", expect=409)
    assert skipped["allowed"] == ["in_review"]
    in_review = await _move(client, incident_id, "in_review")
    assert in_review["state"] == "in_review"
    refused = await _move(client, incident_id, "published", expect=409)
    # Both have no owner: the review's "bob" is a name, not a user.
    assert [f["title"] for f in refused["follow_ups_without_owner"]] == [
        "Cap the pool size",
        "Alert on refusals",
    ]
    owner = make_user(database_url, "Bob")
    for f in refused["follow_ups_without_owner"]:
        patched = await client.patch(
            f"/api/v1/follow-ups/{f['follow_up_id']}", json={"owner_id": owner}
        )
        assert patched.status_code == 200

    published = await _move(client, incident_id, "published")
    assert (published["state"], published["version"]) == ("published", 1)
    assert published["published_at"] and published["published_by"] == "test-admin"
    assert published["action_items"][0] == "Cap the pool size (owner: Bob, due 2030-12-15)"
    assert (await client.get(url)).json() == published
    assert (await client.get(url, params={"version": 1})).json() == published

    # Immutable: the review cannot change, and follow-ups moving on leave it as it was.
    edit = await client.put(f"{url}/review", json={**REVIEW, "contributing_factors": ["x"]})
    assert edit.status_code == 409 and "draft" in edit.json()["detail"]
    first = published["action_items"][0]
    done = await client.patch(
        f"/api/v1/follow-ups/{refused['follow_ups_without_owner'][0]['follow_up_id']}",
        json={"state": "done"},
    )
    assert done.status_code == 200
    assert (await client.get(url)).json()["action_items"][0] == first
    assert (await _move(client, incident_id, "published"))["version"] == 1  # no move
    assert (await _move(client, incident_id, "in_review", expect=409))["allowed"] == ["draft"]

    # Back to draft: version 2 begins, version 1 stays readable as published.
    reopened = await _move(client, incident_id, "draft")
    assert (reopened["state"], reopened["version"]) == ("draft", 2)
    assert reopened["published_at"] is None
    edited = await client.put(f"{url}/review", json={**REVIEW, "contributing_factors": ["y"]})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    current = (await client.get(url)).json()
    assert current["contributing_factors"] == ["y"]
    assert current["action_items"][0] == f"{first} [done]"
    old = (await client.get(url, params={"version": 1})).json()
    assert old == published and old["contributing_factors"] == REVIEW["contributing_factors"]
    markdown = (await client.get(url, params={"version": 1, "format": "markdown"})).text
    assert FACTOR in markdown
    assert (await client.get(url, params={"version": 3})).status_code == 404
    versions = (await client.get(f"{url}/versions")).json()
    assert [(v["version"], v["state"]) for v in versions] == [(1, "published"), (2, "draft")]
    assert versions[0]["published_by"] == "test-admin"

    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    moves = [
        (e["details"]["from_state"], e["details"]["to_state"], e["details"]["version"])
        for e in timeline
        if e["kind"] == "postmortem_state_changed"
    ]
    assert moves == [
        ("draft", "in_review", 1),
        ("in_review", "published", 1),
        ("published", "draft", 2),
    ]
    events = await feed_until(
        client,
        {"incident_id": incident_id},
        lambda es: sum("postmortem_state_changed" in e for e in es) == 3,
    )
    changed = [e["postmortem_state_changed"] for e in events if "postmortem_state_changed" in e]
    assert [(c["from_state"], c["to_state"]) for c in changed] == [m[:2] for m in moves]
    assert changed[1]["assigned_team"] == team


async def test_regenerating_a_published_post_mortem_starts_the_next_version(
    client, team: str
) -> None:
    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    await _move(client, incident_id, "in_review")
    published = await _move(client, incident_id, "published")  # no follow-ups: nothing to own
    for status in ("INVESTIGATING", "RESOLVED"):
        moved = await client.put(f"/api/v1/incidents/{incident_id}/status", json={"status": status})
        assert moved.status_code == 200
    regenerated = (await client.get(url)).json()
    assert (regenerated["state"], regenerated["version"]) == ("draft", 2)
    assert regenerated["impact"]["reopen_count"] == 1
    assert (await client.get(url, params={"version": 1})).json() == published
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    last = [e for e in timeline if e["kind"] == "postmortem_state_changed"][-1]
    assert (last["details"]["from_state"], last["details"]["to_state"]) == ("published", "draft")


async def test_review_action_items_are_follow_ups_matched_by_title(client, team: str) -> None:
    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem/review"
    two = {
        "contributing_factors": ["x"],
        "action_items": [
            {"action": "Cap the pool size", "owner": "bob"},
            {"action": "Alert on refusals", "owner": "carol", "due": "2030-01-01"},
        ],
    }
    assert (await client.put(url, json=two)).status_code == 200
    assert (await client.put(url, json=two)).status_code == 200  # the same again: no change
    listed = (await client.get(f"/api/v1/incidents/{incident_id}/follow-ups")).json()
    assert [(f["title"], f["owner_name"], f["source"]) for f in listed] == [
        ("Cap the pool size", "bob", "review"),
        ("Alert on refusals", "carol", "review"),
    ]
    one = {
        "contributing_factors": ["x"],
        "action_items": [{"action": "cap the POOL size", "owner": "dan"}],
    }
    assert (await client.put(url, json=one)).status_code == 200
    listed = (await client.get(f"/api/v1/incidents/{incident_id}/follow-ups")).json()
    assert [(f["title"], f["owner_name"], f["state"]) for f in listed] == [
        ("Cap the pool size", "dan", "open"),
        ("Alert on refusals", "carol", "wont_do"),
    ]
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    kinds = [e["kind"] for e in timeline if e["kind"].startswith("follow_up_")]
    assert kinds == [
        "follow_up_created",
        "follow_up_created",
        "follow_up_updated",
        "follow_up_updated",
    ]
    # The withdrawal says where it went (the Jira sync closes an exported issue on it).
    (withdrawal,) = [
        e for e in timeline if e["kind"] == "follow_up_updated" and e["note"] == "Alert on refusals"
    ]
    assert withdrawal["details"]["to_state"] == "wont_do"


async def test_state_of_unknown_or_unresolved_incident(client, team: str) -> None:
    missing = await client.put(
        "/api/v1/incidents/NOPE-1/postmortem/state", json={"state": "in_review"}
    )
    assert missing.status_code == 404
    created = await client.post(
        "/api/v1/incidents",
        json={"title": "t", "severity": "SEV3_MEDIUM", "assigned_team": team},
    )
    incident_id = created.json()["incident_id"]
    early = await client.put(
        f"/api/v1/incidents/{incident_id}/postmortem/state", json={"state": "in_review"}
    )
    assert early.status_code == 409
    bad = await client.put(
        f"/api/v1/incidents/{incident_id}/postmortem/state", json={"state": "final"}
    )
    assert bad.status_code == 400 and "state" in bad.text


def test_migration_0089_turns_action_items_into_follow_ups(server_url: str) -> None:
    """Migrated up to 0088, a review with action items (one repeated, one blank, one with
    no due date) is migrated by 0089 into follow-ups: owner null, state open."""
    from yoyo import get_backend, read_migrations

    from incident_service.db import with_database
    from incident_service.migrate import MIGRATIONS_DIR, _yoyo_uri
    from testkit.databases import create_database, drop_database

    name = create_database(server_url, "incident_mig0089")
    url = with_database(server_url, name)
    try:
        backend = get_backend(_yoyo_uri(url))
        migrations = read_migrations(str(MIGRATIONS_DIR))
        before = migrations.filter(lambda m: m.id < "0089")
        with backend.lock():
            backend.apply_migrations(backend.to_apply(before))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "insert into incidents (incident_id, title, severity, status, assigned_team,"
                " created_by) values ('INC-M-1', 't', 'SEV2_HIGH', 'RESOLVED', 'ops', 'x')"
            )
            conn.execute(
                "insert into postmortem_reviews (incident_id, contributing_factors,"
                " action_items, updated_by) values ('INC-M-1', '[]', %s, 'alice')",
                (
                    psycopg.types.json.Jsonb(
                        [
                            {"action": "Cap the pool", "owner": "bob", "due": "2026-12-15"},
                            {"action": "cap the POOL", "owner": "eve"},
                            {"action": "Alert on refusals", "owner": "carol"},
                            {"action": "  ", "owner": "nobody"},
                        ]
                    ),
                ),
            )
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
        backend.connection.close()
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "select title, owner_id, owner_name, due_date::text, due_at, state, source"
                " from follow_ups where incident_id = 'INC-M-1' order by title"
            ).fetchall()
        assert [(r[0], r[1], r[2], r[3], r[5], r[6]) for r in rows] == [
            ("Alert on refusals", None, "carol", None, "open", "review"),
            ("Cap the pool", None, "bob", "2026-12-15", "open", "review"),
        ]
        assert rows[1][4].isoformat().startswith("2026-12-16T00:00:00")
    finally:
        drop_database(server_url, name)
