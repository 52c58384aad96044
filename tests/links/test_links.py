"""Links between incidents over HTTP: stored once, seen from both sides, recorded on both
timelines, team-isolated."""

from __future__ import annotations

import psycopg

from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


async def _incident(client, team: str, title: str = "an incident") -> str:
    created = await client.post("/api/v1/incidents", json=new_incident(team, title=title))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


def _entries(timeline: list[dict], kind: str) -> list[dict]:
    return [e["details"] for e in timeline if e["kind"] == kind]


async def test_a_parent_link_is_seen_as_child_from_the_other_side(client, database_url, team):
    child = await _incident(client, team, "child")
    parent = await _incident(client, team, "parent")
    added = await client.post(
        f"/api/v1/incidents/{child}/links", json={"type": "parent", "incident_id": parent}
    )
    assert added.status_code == 201, added.text
    link = added.json()
    assert link["type"] == "parent" and link["incident_id"] == parent
    assert link["title"] == "parent" and link["created_by"] == "test-admin"

    from_parent = (await client.get(f"/api/v1/incidents/{parent}/links")).json()
    assert [(x["id"], x["type"], x["incident_id"]) for x in from_parent] == [
        (link["id"], "child", child)
    ]
    from_child = (await client.get(f"/api/v1/incidents/{child}/links")).json()
    assert [(x["id"], x["type"], x["incident_id"]) for x in from_child] == [
        (link["id"], "parent", parent)
    ]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select source_incident, target_incident, kind from incident_links where id = %s",
            (link["id"],),
        ).fetchall()
    assert rows == [(parent, child, "parent")]  # once

    # Both timelines; one event.
    child_entries = _entries(
        (await client.get(f"/api/v1/incidents/{child}/timeline")).json(), "link_added"
    )
    parent_entries = _entries(
        (await client.get(f"/api/v1/incidents/{parent}/timeline")).json(), "link_added"
    )
    assert child_entries == [{"link_id": link["id"], "type": "parent", "incident_id": parent}]
    assert parent_entries == [{"link_id": link["id"], "type": "child", "incident_id": child}]
    events = await feed_until(
        client, {"incident_id": child}, lambda es: any("incident_linked" in e for e in es)
    )
    linked = [e["incident_linked"] for e in events if "incident_linked" in e]
    assert linked == [
        {
            "incident_id": child,
            "link_id": link["id"],
            "type": "parent",
            "other_incident_id": parent,
            "actor": "test-admin",
        }
    ]


async def test_child_and_related(client, team) -> None:
    a = await _incident(client, team)
    b = await _incident(client, team)
    c = await _incident(client, team)
    child = await client.post(
        f"/api/v1/incidents/{a}/links", json={"type": "child", "incident_id": b}
    )
    assert child.status_code == 201 and child.json()["type"] == "child"
    related = await client.post(
        f"/api/v1/incidents/{c}/links", json={"type": "related", "incident_id": a}
    )
    assert related.status_code == 201
    seen = {
        (x["type"], x["incident_id"])
        for x in (await client.get(f"/api/v1/incidents/{a}/links")).json()
    }
    assert seen == {("child", b), ("related", c)}
    assert [x["type"] for x in (await client.get(f"/api/v1/incidents/{b}/links")).json()] == [
        "parent"
    ]


async def test_duplicates_are_409_and_self_links_400(client, team) -> None:
    a = await _incident(client, team)
    b = await _incident(client, team)
    first = await client.post(
        f"/api/v1/incidents/{a}/links", json={"type": "related", "incident_id": b}
    )
    assert first.status_code == 201
    for path, body in (
        (f"/api/v1/incidents/{a}/links", {"type": "related", "incident_id": b}),
        (f"/api/v1/incidents/{b}/links", {"type": "parent", "incident_id": a}),
    ):
        again = await client.post(path, json=body)
        assert again.status_code == 409, again.text
        assert again.json()["link_id"] == first.json()["id"]
    itself = await client.post(
        f"/api/v1/incidents/{a}/links", json={"type": "related", "incident_id": a}
    )
    assert itself.status_code == 400 and itself.json()["extra"][0]["key"] == "incident_id"
    for bad in ({"type": "sibling", "incident_id": b}, {"type": "related"}):
        answer = await client.post(f"/api/v1/incidents/{a}/links", json=bad)
        assert answer.status_code == 400, answer.text
    missing = await client.post(
        f"/api/v1/incidents/{a}/links", json={"type": "related", "incident_id": "INC-19990101-001"}
    )
    assert missing.status_code == 404
    assert len((await client.get(f"/api/v1/incidents/{a}/links")).json()) == 1


async def test_delete_removes_and_records_on_both_timelines(client, team) -> None:
    a = await _incident(client, team)
    b = await _incident(client, team)
    link = (
        await client.post(f"/api/v1/incidents/{a}/links", json={"type": "child", "incident_id": b})
    ).json()
    # From either side.
    removed = await client.delete(f"/api/v1/incidents/{b}/links/{link['id']}")
    assert removed.status_code == 204, removed.text
    assert (await client.get(f"/api/v1/incidents/{a}/links")).json() == []
    assert (await client.get(f"/api/v1/incidents/{b}/links")).json() == []
    for side, other, seen_as in ((a, b, "child"), (b, a, "parent")):
        timeline = (await client.get(f"/api/v1/incidents/{side}/timeline")).json()
        assert _entries(timeline, "link_removed") == [
            {"link_id": link["id"], "type": seen_as, "incident_id": other}
        ]
    again = await client.delete(f"/api/v1/incidents/{b}/links/{link['id']}")
    assert again.status_code == 404
    # A link id under an incident that is not one of its sides is not found.
    c = await _incident(client, team)
    relinked = (
        await client.post(f"/api/v1/incidents/{a}/links", json={"type": "child", "incident_id": b})
    ).json()
    assert (await client.delete(f"/api/v1/incidents/{c}/links/{relinked['id']}")).status_code == 404
    events = await feed_until(
        client, {"incident_id": b}, lambda es: any("incident_unlinked" in e for e in es)
    )
    assert [e["incident_unlinked"]["type"] for e in events if "incident_unlinked" in e] == [
        "parent"
    ]


async def test_another_teams_incident_cannot_be_linked_or_seen(client, database_url, team) -> None:
    other_team = f"{team}-other"
    mine = await _incident(client, team)
    theirs = await _incident(client, other_team, "their secret title")
    key = make_api_key(
        database_url, name="team-key", scopes=["incidents:read", "incidents:write"], team=team
    )
    headers = {"Authorization": f"Bearer {key}"}
    refused = await client.post(
        f"/api/v1/incidents/{mine}/links",
        json={"type": "related", "incident_id": theirs},
        headers=headers,
    )
    assert refused.status_code == 404, refused.text
    assert "secret" not in refused.text
    # An admin links them: the team key does not see the link, nor can it remove it.
    link = (
        await client.post(
            f"/api/v1/incidents/{mine}/links", json={"type": "related", "incident_id": theirs}
        )
    ).json()
    listed = await client.get(f"/api/v1/incidents/{mine}/links", headers=headers)
    assert listed.status_code == 200 and listed.json() == []
    gone = await client.delete(f"/api/v1/incidents/{mine}/links/{link['id']}", headers=headers)
    assert gone.status_code == 404
    assert len((await client.get(f"/api/v1/incidents/{mine}/links")).json()) == 1


async def test_a_parent_link_closing_a_cycle_of_any_length_is_refused(client, team) -> None:
    a, b, c, d = [await _incident(client, team, name) for name in "abcd"]

    async def link(this: str, kind: str, other: str):  # type: ignore[no-untyped-def]
        return await client.post(
            f"/api/v1/incidents/{this}/links", json={"type": kind, "incident_id": other}
        )

    # a is the parent of b, b of c, c of d (said both ways round).
    assert (await link(b, "parent", a)).status_code == 201
    assert (await link(b, "child", c)).status_code == 201
    assert (await link(d, "parent", c)).status_code == 201
    for this, kind, other in ((a, "parent", d), (d, "child", a), (a, "parent", c), (c, "child", a)):
        refused = await link(this, kind, other)
        assert refused.status_code == 409, (this, kind, other, refused.text)
        body = refused.json()
        assert body["extra"][0]["key"] == "incident_id" and "cycle" in body["detail"]
    # Nothing was written by the refusals; related links and another branch stay allowed.
    assert len((await client.get(f"/api/v1/incidents/{a}/links")).json()) == 1
    assert (await link(a, "related", d)).status_code == 201
    e = await _incident(client, team, "e")
    assert (await link(e, "child", a)).status_code == 201  # e above a: no cycle
    assert (await link(d, "child", e)).status_code == 409  # d above e, which is above a
    # A link removed opens the way again.
    middle = next(
        x["id"]
        for x in (await client.get(f"/api/v1/incidents/{b}/links")).json()
        if x["incident_id"] == c
    )
    assert (await client.delete(f"/api/v1/incidents/{b}/links/{middle}")).status_code in (200, 204)
    assert (await link(a, "parent", c)).status_code == 201  # c above a, no longer below it
