"""Creating incidents: the response, the id sequence under concurrency, idempotent replay."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import psycopg

from tests.conftest import new_incident

ID_PATTERN = re.compile(r"^INC-(\d{8})-(\d{3,})$")


async def test_create_returns_the_spec_incident(client, team) -> None:
    response = await client.post("/api/v1/incidents", json=new_incident(team, assignee="bob"))
    assert response.status_code == 201, response.text
    body = response.json()
    spec_fields = {
        "incident_id",
        "title",
        "description",
        "severity",
        "status",
        "affected_services",
        "assigned_team",
        "assignee",
        "created_at",
        "resolved_at",
    }
    assert spec_fields <= body.keys()
    assert body["status"] == "OPEN"
    assert body["resolved_at"] is None
    assert body["assignee"] == "bob"
    assert body["affected_services"] == ["portfolio_management_service"]
    match = ID_PATTERN.match(body["incident_id"])
    assert match is not None
    assert match.group(1) == datetime.now(UTC).strftime("%Y%m%d")
    assert response.headers["location"] == f"/api/v1/incidents/{body['incident_id']}"

    fetched = (await client.get(f"/api/v1/incidents/{body['incident_id']}")).json()
    assert fetched.pop("integration_links") == []  # shown on the single-incident read only
    assert fetched == body


async def test_description_defaults_to_empty(client, team) -> None:
    body = new_incident(team)
    del body["description"], body["affected_services"]
    created = (await client.post("/api/v1/incidents", json=body)).json()
    assert created["description"] == ""
    assert created["affected_services"] == []
    assert created["assignee"] is None


async def test_64_concurrent_creates_get_distinct_sequential_ids(client, team) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/incidents", json=new_incident(team)) for _ in range(64))
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses][:3]
    ids = [r.json()["incident_id"] for r in responses]
    assert len(set(ids)) == 64
    numbers = sorted(int(ID_PATTERN.match(i).group(2)) for i in ids)  # type: ignore[union-attr]
    assert numbers == list(range(numbers[0], numbers[0] + 64)), "consecutive when none fails"


async def test_sequence_grows_past_999(client, team, database_url) -> None:
    today = datetime.now(UTC).date()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select next_incident_number(%s)", (today,))
        conn.execute(
            "select setval(%s, greatest(999, (select last_value from {})))".format(
                f"incident_seq_{today:%Y%m%d}"
            ),
            (f"incident_seq_{today:%Y%m%d}",),
        )
    created = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    number = ID_PATTERN.match(created["incident_id"]).group(2)  # type: ignore[union-attr]
    assert int(number) >= 1000 and not number.startswith("0")


async def test_idempotent_replay_returns_the_same_incident(client, team) -> None:
    headers = {"Idempotency-Key": f"key-{team}"}
    first = await client.post("/api/v1/incidents", json=new_incident(team), headers=headers)
    again = await client.post("/api/v1/incidents", json=new_incident(team), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(listed) == 1


async def test_idempotency_key_with_another_body_is_a_conflict(client, team) -> None:
    headers = {"Idempotency-Key": f"key-{team}"}
    await client.post("/api/v1/incidents", json=new_incident(team), headers=headers)
    other = await client.post(
        "/api/v1/incidents", json=new_incident(team, title="Something else"), headers=headers
    )
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]


async def test_concurrent_requests_with_one_key_create_one_incident(client, team) -> None:
    headers = {"Idempotency-Key": f"key-{team}"}
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/incidents", json=new_incident(team), headers=headers)
            for _ in range(10)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["incident_id"] for r in responses}) == 1
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    assert len(listed) == 1


async def test_text_is_stored_verbatim(client, team) -> None:
    nasty = "'; drop table incidents; -- <script>alert(1)</script> \u202e ünïcödé \x07 😀"
    created = await client.post(
        "/api/v1/incidents", json=new_incident(team, title=nasty, description=nasty)
    )
    assert created.status_code == 201, created.text
    fetched = (await client.get(f"/api/v1/incidents/{created.json()['incident_id']}")).json()
    assert fetched["title"] == nasty and fetched["description"] == nasty
