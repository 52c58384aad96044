"""Every row of the transition table, through the API, against real PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from incident_service.incidents.lifecycle import ALLOWED, IncidentStatus, allowed_from
from tests.conftest import new_incident

S = IncidentStatus

# An allowed path from OPEN to each status, used to put an incident in the "from" state.
PATH_TO: dict[IncidentStatus, list[IncidentStatus]] = {
    S.OPEN: [],
    S.ACKNOWLEDGED: [S.ACKNOWLEDGED],
    S.INVESTIGATING: [S.INVESTIGATING],
    S.IDENTIFIED: [S.IDENTIFIED],
    S.MONITORING: [S.MONITORING],
    S.RESOLVED: [S.RESOLVED],
    S.CLOSED: [S.RESOLVED, S.CLOSED],
    S.MERGED: [],  # no status change reaches MERGED: a merge does (`_incident_in`)
}

# The table as the issue states it, written out independently of lifecycle.py.
EXPECTED_ALLOWED = {
    (S.OPEN, S.ACKNOWLEDGED),
    (S.OPEN, S.INVESTIGATING),
    (S.OPEN, S.IDENTIFIED),
    (S.OPEN, S.MONITORING),
    (S.OPEN, S.RESOLVED),
    (S.ACKNOWLEDGED, S.INVESTIGATING),
    (S.ACKNOWLEDGED, S.IDENTIFIED),
    (S.ACKNOWLEDGED, S.MONITORING),
    (S.ACKNOWLEDGED, S.RESOLVED),
    (S.INVESTIGATING, S.IDENTIFIED),
    (S.INVESTIGATING, S.MONITORING),
    (S.INVESTIGATING, S.RESOLVED),
    (S.IDENTIFIED, S.MONITORING),
    (S.IDENTIFIED, S.RESOLVED),
    (S.IDENTIFIED, S.INVESTIGATING),
    (S.MONITORING, S.RESOLVED),
    (S.MONITORING, S.INVESTIGATING),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.INVESTIGATING),
}


def test_table_matches_the_specified_lifecycle() -> None:
    actual = {(a, b) for a, targets in ALLOWED.items() for b in targets}
    assert actual == EXPECTED_ALLOWED
    assert set(ALLOWED) == set(IncidentStatus)


async def _incident_in(client, team: str, status: IncidentStatus) -> str:
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident_id"]
    for step in PATH_TO[status]:
        moved = await client.put(f"/api/v1/incidents/{incident_id}/status", json={"status": step})
        assert moved.status_code == 200, moved.text
    if status is S.MERGED:
        target = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
        merged = await client.post(
            f"/api/v1/incidents/{target['incident_id']}/merge",
            json={"source_incident_ids": [incident_id], "reason": "duplicate"},
        )
        assert merged.status_code == 200, merged.text
    return str(incident_id)


@pytest.mark.parametrize(
    ("current", "target"),
    list(itertools.product(IncidentStatus, IncidentStatus)),
    ids=lambda s: s.value,
)
async def test_transition(client, team, current: IncidentStatus, target: IncidentStatus) -> None:
    incident_id = await _incident_in(client, team, current)
    before = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()

    response = await client.put(
        f"/api/v1/incidents/{incident_id}/status",
        json={"status": target, "note": "why", "actor": "alice"},
    )
    after = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()

    if target is current:
        assert response.status_code == 200
        assert response.json()["status"] == current
        # The same status again changes nothing, but its note is not dropped.
        assert after[:-1] == before and after[-1]["kind"] == "note"
        assert (after[-1]["actor"], after[-1]["note"]) == ("test-admin", "why")
        assert after[-1]["details"] == {"status": current, "on_behalf_of": "alice"}
        assert after[-1]["from_status"] is None and after[-1]["to_status"] is None
    elif (current, target) in EXPECTED_ALLOWED:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
        entry = after[-1]
        assert len(after) == len(before) + 1
        assert (entry["from_status"], entry["to_status"]) == (current, target)
        # The actor is the API key's owner; the body's `actor` is who it was done for.
        assert (entry["actor"], entry["note"]) == ("test-admin", "why")
        assert entry["details"]["on_behalf_of"] == "alice"
    else:
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["current_status"] == current
        assert body["allowed"] == [s.value for s in allowed_from(current)]
        assert after == before


async def test_timestamps_and_reopen(client, team) -> None:
    incident_id = await _incident_in(client, team, S.OPEN)
    url = f"/api/v1/incidents/{incident_id}/status"
    opened = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    assert opened["acknowledged_at"] is None and opened["resolved_at"] is None

    investigating = (await client.put(url, json={"status": "INVESTIGATING"})).json()
    assert investigating["acknowledged_at"] is not None
    resolved = (await client.put(url, json={"status": "RESOLVED"})).json()
    assert resolved["resolved_at"] is not None
    assert resolved["acknowledged_at"] == investigating["acknowledged_at"], "set once only"

    reopened = (await client.put(url, json={"status": "INVESTIGATING"})).json()
    assert reopened["resolved_at"] is None
    assert reopened["reopen_count"] == 1

    await client.put(url, json={"status": "RESOLVED"})
    closed = (await client.put(url, json={"status": "CLOSED"})).json()
    assert closed["closed_at"] is not None and closed["resolved_at"] is not None
    assert closed["reopen_count"] == 1

    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    kinds = [(e["kind"], e["from_status"], e["to_status"]) for e in timeline]
    assert kinds == [
        ("created", None, "OPEN"),
        ("status_changed", "OPEN", "INVESTIGATING"),
        ("status_changed", "INVESTIGATING", "RESOLVED"),
        ("status_changed", "RESOLVED", "INVESTIGATING"),
        ("status_changed", "INVESTIGATING", "RESOLVED"),
        ("status_changed", "RESOLVED", "CLOSED"),
    ]
    assert timeline[3]["details"] == {"reopen": True, "on_behalf_of": None}


async def test_same_status_without_note_records_nothing(client, team) -> None:
    incident_id = await _incident_in(client, team, S.INVESTIGATING)
    before = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    for body in ({"status": "INVESTIGATING"}, {"status": "INVESTIGATING", "note": ""}):
        response = await client.put(f"/api/v1/incidents/{incident_id}/status", json=body)
        assert response.status_code == 200, response.text
    assert (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json() == before
