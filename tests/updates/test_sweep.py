"""The reminder sweep's rules, with a clock the test moves: each test runs in one
transaction that is rolled back, where `now()` stands still and "time passes" by moving
the incident's times (creation, updates, reminders) back. The worker's own run is
tests/updates/test_reminders.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.rows import dict_row

from incident_service.auth.schemas import Principal, Scope
from incident_service.db import AsyncConn
from incident_service.updates import repository, service
from incident_service.updates.schemas import UpdateCreate
from tests.conftest import new_incident


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConn]:
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
        yield c
        await c.rollback()


async def _sweep(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    """One round; the reminders it raised for `incident_id` (other tests' incidents may be
    due too, in this transaction only)."""
    statement = repository.sweep_statement(await repository.roles_table(conn))
    rows = await repository.raise_due(conn, statement, service.defaults(), 10_000)
    return [r for r in rows if r["incident_id"] == incident_id]


async def _age(conn: AsyncConn, incident_id: str, minutes: float) -> None:
    """`minutes` pass for this incident."""
    shift = {"id": incident_id, "m": minutes}
    await conn.execute(
        "update incidents set created_at = created_at - make_interval(secs => %(m)s * 60)"
        " where incident_id = %(id)s",
        shift,
    )
    await conn.execute(
        "update incident_updates set posted_at = posted_at - make_interval(secs => %(m)s * 60)"
        " where incident_id = %(id)s",
        shift,
    )
    await conn.execute(
        "update update_reminders set due_at = due_at - make_interval(secs => %(m)s * 60)"
        " where incident_id = %(id)s",
        shift,
    )


async def _minutes_since_creation(conn: AsyncConn, row: dict[str, Any]) -> float:
    cur = await conn.execute(
        "select extract(epoch from %s - created_at) / 60 as m from incidents"
        " where incident_id = %s",
        (row["due_at"], row["incident_id"]),
    )
    found = await cur.fetchone()
    assert found is not None
    return round(float(found["m"]), 6)


async def _incident(client: AsyncTestClient, team: str, **overrides: object) -> str:  # type: ignore[type-arg]
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def test_one_reminder_per_interval_reset_by_an_update_and_none_once_resolved(
    client: AsyncTestClient,  # type: ignore[type-arg]
    conn: AsyncConn,
    team: str,
) -> None:
    put = await client.put(
        f"/api/v1/teams/{team}/update-cadence", json={"every_minutes": {"SEV2_HIGH": 10}}
    )
    assert put.status_code == 200, put.text
    iid = await _incident(client, team, severity="SEV2_HIGH", assignee="ann")

    assert await _sweep(conn, iid) == [], "not due yet"
    await _age(conn, iid, 25)
    [first] = await _sweep(conn, iid)
    assert await _minutes_since_creation(conn, first) == 20, "the latest slot passed"
    assert (first["recipient_type"], first["recipient"]) == ("assignee", "ann")
    assert await _sweep(conn, iid) == [], "at most one per interval"
    await _age(conn, iid, 4)
    assert await _sweep(conn, iid) == []
    await _age(conn, iid, 2)
    [second] = await _sweep(conn, iid)
    assert await _minutes_since_creation(conn, second) == 30

    # A worker down for three intervals raises one reminder, not three.
    await _age(conn, iid, 35)
    [late] = await _sweep(conn, iid)
    assert await _minutes_since_creation(conn, late) == 60
    assert await _sweep(conn, iid) == []

    # An update restarts the clock: nothing until an interval after it.
    user = await _user(conn, "Dana Comms")
    author = Principal(
        key_id=uuid4(),
        name="Dana Comms",
        scopes=frozenset({Scope.INCIDENTS_WRITE}),
        team=team,
        rate_limit=None,
        user_id=user,
    )
    posted = await service.post(conn, author, iid, UpdateCreate(message="Still on it."))
    assert posted.author.user_id == user
    await _age(conn, iid, 9.9)
    assert await _sweep(conn, iid) == []
    await _age(conn, iid, 0.1)
    [after] = await _sweep(conn, iid)
    cur = await conn.execute(
        "select max(posted_at) as at from incident_updates where incident_id = %s", (iid,)
    )
    last = await cur.fetchone()
    assert last is not None and (after["due_at"] - last["at"]).total_seconds() == 600

    # A severity without a cadence raises nothing; a severity change takes effect at once.
    await conn.execute(
        "update incidents set severity = 'SEV3_MEDIUM' where incident_id = %s", (iid,)
    )
    await put_cadence(conn, team, {"SEV2_HIGH": 10, "SEV3_MEDIUM": None})
    await _age(conn, iid, 100)
    assert await _sweep(conn, iid) == []
    await conn.execute(
        "update incidents set severity = 'SEV1_CRITICAL' where incident_id = %s", (iid,)
    )
    # SEV1's default is 30 minutes; 110 have passed since the update: the slot at 90.
    [sev1] = await _sweep(conn, iid)
    cur = await conn.execute(
        "select extract(epoch from %s - max(posted_at)) / 60 as m from incident_updates"
        " where incident_id = %s",
        (sev1["due_at"], iid),
    )
    since = await cur.fetchone()
    assert since is not None and round(float(since["m"]), 6) == 90

    await conn.execute(
        "update incidents set status = 'RESOLVED', resolved_at = now() where incident_id = %s",
        (iid,),
    )
    await _age(conn, iid, 120)
    assert await _sweep(conn, iid) == [], "none once resolved"

    # Every reminder is on the timeline and in the outbox, once.
    cur = await conn.execute(
        "select count(*) as n from incident_timeline where incident_id = %s"
        " and kind = 'stakeholder_update_due'",
        (iid,),
    )
    entries = await cur.fetchone()
    cur = await conn.execute(
        "select payload from outbox where incident_id = %s and event_type = 'incident_update_due'"
        " order by id",
        (iid,),
    )
    events = [r["payload"] for r in await cur.fetchall()]
    assert entries is not None and entries["n"] == len(events) == 5
    assert events[0]["recipient"] == "ann" and events[0]["every_minutes"] == 10
    assert events[0]["assigned_team"] == team and events[0]["last_update_at"] is None
    assert events[-1]["severity"] == "SEV1_CRITICAL" and events[-1]["every_minutes"] == 30


async def put_cadence(conn: AsyncConn, team: str, minutes: dict[str, float | None]) -> None:
    await repository.put_cadence(conn, team, minutes, scope=None, actor="tests")


async def _user(conn: AsyncConn, name: str) -> UUID:
    cur = await conn.execute(
        "insert into users (name, created_by) values (%s, 'tests') returning id", (name,)
    )
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def test_the_reminder_goes_to_comms_then_commander_then_assignee_then_team(
    client: AsyncTestClient,  # type: ignore[type-arg]
    conn: AsyncConn,
    team: str,
) -> None:
    """`incident_roles` belongs to the roles feature; until it exists this test stands one
    in (a temporary table, which shadows a real one in this transaction)."""
    nobody = await _incident(client, team, severity="SEV1_CRITICAL")
    await _age(conn, nobody, 31)
    [to_team] = await _sweep(conn, nobody)
    assert (to_team["recipient_type"], to_team["recipient"]) == ("team", team)

    iid = await _incident(client, team, severity="SEV1_CRITICAL", assignee="ann")
    await conn.execute(
        "create temporary table incident_roles (incident_id varchar(100), role varchar(40),"
        " user_id uuid, unassigned_at timestamptz) on commit drop"
    )
    commander, comms = await _user(conn, "Cora Commander"), await _user(conn, "Cal Comms")
    await conn.execute(
        "insert into incident_roles values (%s, 'commander', %s, null), (%s, 'comms', %s, now())",
        (iid, commander, iid, comms),
    )
    await _age(conn, iid, 31)
    [first] = await _sweep(conn, iid)
    assert (first["recipient_type"], first["recipient"], first["recipient_user_id"]) == (
        "commander",
        "Cora Commander",
        commander,
    ), "the comms lead was unassigned: the commander"
    await conn.execute(
        "insert into incident_roles values (%s, 'communications', %s, null)", (iid, comms)
    )
    await _age(conn, iid, 30)
    [second] = await _sweep(conn, iid)
    assert (second["recipient_type"], second["recipient"]) == ("communications", "Cal Comms")
