"""POST /api/v1/incidents/{id}/merge, over HTTP against real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import psycopg

from testkit.databases import make_api_key
from tests.alerts.conftest import make_integration
from tests.alerts.test_events_v2 import enqueue, trigger
from tests.conftest import feed_until, new_incident


async def _open(client, team: str, **overrides: Any) -> str:
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def _merge(client, target: str, *sources: str, reason: str = "duplicate", **kw: Any):
    body = {"source_incident_ids": list(sources), "reason": reason}
    return await client.post(f"/api/v1/incidents/{target}/merge", json=body, **kw)


async def _timeline(client, incident_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/api/v1/incidents/{incident_id}/timeline")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def test_two_sources_merge_into_the_target(client, team) -> None:
    target = await _open(client, team)
    first, second = await _open(client, team), await _open(client, team)
    await client.put(f"/api/v1/incidents/{second}/status", json={"status": "INVESTIGATING"})

    answer = await _merge(client, target, first, second, reason="same outage")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["target"]["incident_id"] == target
    assert body["target"]["status"] == "OPEN" and body["target"]["merged_into"] is None
    assert [(m["incident_id"], m["status"], m["merged_into"]) for m in body["merged"]] == [
        (first, "MERGED", target),
        (second, "MERGED", target),
    ]
    # The old link keeps answering, and says where the incident went.
    got = await client.get(f"/api/v1/incidents/{second}")
    assert got.status_code == 200, got.text
    assert (got.json()["status"], got.json()["merged_into"]) == ("MERGED", target)

    source_entry = (await _timeline(client, second))[-1]
    assert source_entry["kind"] == "merged_into"
    assert (source_entry["from_status"], source_entry["to_status"]) == ("INVESTIGATING", "MERGED")
    assert source_entry["note"] == "same outage"
    assert source_entry["details"] == {"merged_into": target}
    target_entries = [e for e in await _timeline(client, target) if e["kind"] == "merged_from"]
    assert sorted(e["details"]["merged_from"] for e in target_entries) == sorted([first, second])
    assert {e["details"]["previous_status"] for e in target_entries} == {"OPEN", "INVESTIGATING"}

    # The feed has every test's events (an admin key sees every team): keep these two.
    ours = {first, second}

    def mine(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e["incident_merged"]
            for e in evs
            if "incident_merged" in e and e["incident_merged"]["incident_id"] in ours
        ]

    events = []
    for source in (first, second):
        events += await feed_until(client, {"incident_id": source}, lambda evs: len(mine(evs)) == 1)
    merged = mine(events)
    assert sorted((m["incident_id"], m["merged_into"]) for m in merged) == sorted(
        [(first, target), (second, target)]
    )
    changed = [e["incident_status_changed"] for e in events if "incident_status_changed" in e]
    assert {(c["incident_id"], c["status"]) for c in changed} >= {
        (first, "MERGED"),
        (second, "MERGED"),
    }


async def test_listing_by_status_finds_merged_incidents(client, team) -> None:
    target, source = await _open(client, team), await _open(client, team)
    assert (await _merge(client, target, source)).status_code == 200
    merged = await client.get(
        "/api/v1/incidents", params={"assigned_team": team, "status": "MERGED"}
    )
    assert merged.status_code == 200, merged.text
    assert [i["incident_id"] for i in merged.json()] == [source]
    everything = await client.get("/api/v1/incidents", params={"assigned_team": team})
    assert {i["incident_id"] for i in everything.json()} == {target, source}


async def test_a_done_source_is_409_naming_it_and_nothing_moves(client, team) -> None:
    target, active = await _open(client, team), await _open(client, team)
    resolved, closed = await _open(client, team), await _open(client, team)
    for incident_id, path in ((resolved, ["RESOLVED"]), (closed, ["RESOLVED", "CLOSED"])):
        for status in path:
            moved = await client.put(
                f"/api/v1/incidents/{incident_id}/status", json={"status": status}
            )
            assert moved.status_code == 200, moved.text

    for done, status in ((resolved, "RESOLVED"), (closed, "CLOSED")):
        answer = await _merge(client, target, active, done)
        assert answer.status_code == 409, answer.text
        assert done in answer.json()["detail"] and answer.json()["current_status"] == status
        assert answer.json()["extra"] == [
            {
                "key": "source_incident_ids",
                "source": "body",
                "incident_id": done,
                "message": f"is {status}",
            }
        ]
    # All or nothing: the active source was not merged either.
    assert (await client.get(f"/api/v1/incidents/{active}")).json()["status"] == "OPEN"

    assert (await _merge(client, target, active)).status_code == 200
    again = await _merge(client, target, active)
    assert again.status_code == 409 and again.json()["current_status"] == "MERGED"


async def test_the_target_must_be_active_and_not_a_source(client, team) -> None:
    target, source = await _open(client, team), await _open(client, team)
    itself = await _merge(client, target, source, target)
    assert itself.status_code == 409, itself.text
    assert itself.json()["extra"][0]["key"] == "source_incident_ids"

    assert (await _merge(client, target, source)).status_code == 200
    other = await _open(client, team)
    into_merged = await _merge(client, source, other)
    assert into_merged.status_code == 409 and into_merged.json()["current_status"] == "MERGED"

    await client.put(f"/api/v1/incidents/{target}/status", json={"status": "RESOLVED"})
    into_resolved = await _merge(client, target, other)
    assert into_resolved.status_code == 409 and into_resolved.json()["current_status"] == "RESOLVED"
    assert (await client.get(f"/api/v1/incidents/{other}")).json()["status"] == "OPEN"


async def test_unknown_sources_and_other_teams_are_404(client, database_url, team) -> None:
    other_team = f"other-{secrets.token_hex(4)}"
    target, theirs = await _open(client, team), await _open(client, other_team)
    key = make_api_key(database_url, name="team-key", scopes=["incidents:write"], team=team)
    as_team = {"Authorization": f"Bearer {key}"}

    missing = await _merge(client, target, "INC-19700101-999")
    assert missing.status_code == 404, missing.text

    hidden = await _merge(client, target, theirs, headers=as_team)
    assert hidden.status_code == 404, hidden.text
    assert other_team not in hidden.text
    assert (await client.get(f"/api/v1/incidents/{theirs}")).json()["status"] == "OPEN"
    # Their incident as the target: the same 404 as an unknown one.
    mine = await _open(client, team)
    assert (await _merge(client, theirs, mine, headers=as_team)).status_code == 404


async def test_put_status_cannot_reach_merged(client, team) -> None:
    incident_id = await _open(client, team)
    answer = await client.put(f"/api/v1/incidents/{incident_id}/status", json={"status": "MERGED"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["requested_status"] == "MERGED"
    assert "MERGED" not in answer.json()["allowed"]


async def test_pending_responses_of_a_source_are_skipped(client, team) -> None:
    # No worker runs here: the responses the policies chose stay pending until the merge.
    target, source = await _open(client, team), await _open(client, team)
    before = (await client.get(f"/api/v1/incidents/{source}/responses")).json()["responses"]
    assert before and {r["execution_status"] for r in before} == {"pending"}

    assert (await _merge(client, target, source)).status_code == 200

    after = (await client.get(f"/api/v1/incidents/{source}/responses")).json()["responses"]
    assert {r["execution_status"] for r in after} == {"skipped"}
    assert {r["last_error"] for r in after} == {f"the incident was merged into {target}"}
    kept = (await client.get(f"/api/v1/incidents/{target}/responses")).json()["responses"]
    assert {r["execution_status"] for r in kept} == {"pending"}, "the target's keep running"
    entries = [e for e in await _timeline(client, source) if e["kind"] == "response_status_changed"]
    assert len(entries) == len(before)


async def test_alerts_move_and_later_alerts_join_the_target(client, team) -> None:
    key = str((await make_integration(client, team, "events-v2"))["integration_key"])
    assert (await enqueue(client, trigger(key, "db-disk"))).status_code == 202
    assert (await enqueue(client, trigger(key, "db-load"))).status_code == 202
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    by_title = sorted(listed, key=lambda i: i["created_at"])
    target, source = by_title[0]["incident_id"], by_title[1]["incident_id"]

    assert (await _merge(client, target, source)).status_code == 200
    moved = (await client.get(f"/api/v1/incidents/{target}/alerts")).json()
    assert sorted(a["dedup_key"] for a in moved) == ["db-disk", "db-load"]
    assert (await client.get(f"/api/v1/incidents/{source}/alerts")).json() == []

    # The source's dedup key now feeds the target: no new incident.
    assert (await enqueue(client, trigger(key, "db-load", summary="again"))).status_code == 202
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(listed) == 2
    alerts = (await client.get(f"/api/v1/incidents/{target}/alerts")).json()
    assert [a["summary"] for a in alerts if a["dedup_key"] == "db-load"][-1] == "again"


async def test_a_chain_of_merges_leads_alerts_to_the_last_target(
    client, database_url, team
) -> None:
    key = str((await make_integration(client, team, "events-v2"))["integration_key"])
    assert (await enqueue(client, trigger(key, "chain-a"))).status_code == 202
    first = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    a = first[0]["incident_id"]
    b, c = await _open(client, team), await _open(client, team)
    assert (await _merge(client, b, a)).status_code == 200
    assert (await _merge(client, c, b)).status_code == 200
    assert (await client.get(f"/api/v1/incidents/{a}")).json()["merged_into"] == b
    # A group still on the first source (as intake sees it when it read the group just
    # before a merge committed): intake follows merged_into, A -> B -> C.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update alert_groups set incident_id = %s where dedup_key = 'chain-a'"
            " and incident_id = %s",
            (a, c),
        )

    assert (await enqueue(client, trigger(key, "chain-a", summary="late"))).status_code == 202
    alerts = (await client.get(f"/api/v1/incidents/{c}/alerts")).json()
    assert [x["summary"] for x in alerts][-1] == "late"
    assert len((await client.get("/api/v1/incidents", params={"assigned_team": team})).json()) == 3


async def test_crossed_merges_at_once_one_wins_without_deadlock(client, team) -> None:
    for _ in range(5):
        a, b = await _open(client, team), await _open(client, team)
        answers = await asyncio.gather(_merge(client, a, b), _merge(client, b, a))
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        states = {i: (await client.get(f"/api/v1/incidents/{i}")).json() for i in (a, b)}
        assert sorted(s["status"] for s in states.values()) == ["MERGED", "OPEN"]


async def test_the_target_resolves_with_its_last_alert_group(client, team) -> None:
    key = str((await make_integration(client, team, "events-v2"))["integration_key"])
    assert (await enqueue(client, trigger(key, "web-5xx"))).status_code == 202
    assert (await enqueue(client, trigger(key, "web-latency"))).status_code == 202
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    target, source = (i["incident_id"] for i in sorted(listed, key=lambda i: i["created_at"]))
    assert (await _merge(client, target, source)).status_code == 200

    def resolve(dedup_key: str) -> dict[str, str]:
        return {"routing_key": key, "event_action": "resolve", "dedup_key": dedup_key}

    assert (await enqueue(client, resolve("web-latency"))).status_code == 202
    still = (await client.get(f"/api/v1/incidents/{target}")).json()
    assert still["status"] == "OPEN", "the target's own alert still fires"
    assert (await enqueue(client, resolve("web-5xx"))).status_code == 202
    done = (await client.get(f"/api/v1/incidents/{target}")).json()
    assert done["status"] == "RESOLVED"
