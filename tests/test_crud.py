"""The configuration tables' one shape, on the real schema: every read and write sees the
caller's team only, a clash is a 409 and a missing (or hidden) row a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
from psycopg.rows import dict_row

from incident_service.crud import Table, page_where
from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound
from incident_service.escalation.repository import SCHEDULES

LAYERS = [{"name": "primary", "rotation": "daily", "participants": ["ada"], "starts": "2025-01-01"}]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConn]:
    """A connection whose transaction is rolled back at the end: nothing stays behind."""
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
        yield c
        await c.rollback()


def _schedule(team: str | None, name: str = "primary") -> dict[str, object]:
    return {
        "team": team,
        "name": name,
        "timezone": "UTC",
        "layers": LAYERS,
        "updated_by": "test",
        "on_behalf_of": None,
    }


async def test_another_teams_row_is_as_absent_as_a_missing_one(conn: AsyncConn, team: str) -> None:
    row = await SCHEDULES.insert(conn, _schedule(team))
    assert (await SCHEDULES.get_or_404(conn, row["id"], team))["name"] == "primary"
    assert (await SCHEDULES.get_or_404(conn, row["id"], None))["id"] == row["id"]

    other = f"{team}-other"
    assert await SCHEDULES.get(conn, row["id"], other) is None
    assert row["id"] not in {r["id"] for r in await SCHEDULES.list(conn, other)}
    missing = uuid4()
    for call in (
        SCHEDULES.get_or_404(conn, row["id"], other),
        SCHEDULES.update(conn, row["id"], other, {"name": "taken over"}),
        SCHEDULES.delete(conn, row["id"], other, by="intruder"),
    ):
        with pytest.raises(NotFound) as hidden:
            await call
        assert hidden.value.message == f"schedule {row['id']} not found"
    with pytest.raises(NotFound) as absent:
        await SCHEDULES.get_or_404(conn, missing, other)
    assert absent.value.message == f"schedule {missing} not found"
    assert (await SCHEDULES.get_or_404(conn, row["id"], team))["name"] == "primary"


async def test_a_clash_is_a_conflict_and_changes_nothing(conn: AsyncConn, team: str) -> None:
    first = await SCHEDULES.insert(conn, _schedule(team))
    with pytest.raises(Conflict) as clash:
        await SCHEDULES.insert(conn, _schedule(team), conflict="name taken")
    assert clash.value.message == "name taken"
    second = await SCHEDULES.insert(conn, _schedule(team, "secondary"))

    assert await SCHEDULES.taken(conn, second["id"], team=team, name="primary")
    assert not await SCHEDULES.taken(conn, first["id"], team=team, name="primary")
    assert not await SCHEDULES.taken(conn, None, team=f"{team}-other", name="primary")


async def test_nulls_match_in_the_uniqueness_check(conn: AsyncConn) -> None:
    # Unassigned schedules (team null) share one space of names.
    name = f"unassigned-{uuid4().hex[:8]}"
    row = await SCHEDULES.insert(conn, _schedule(None, name))
    assert await SCHEDULES.taken(conn, uuid4(), team=None, name=name)
    assert not await SCHEDULES.taken(conn, row["id"], team=None, name=name)


async def test_an_update_stamps_its_time_and_honours_its_condition(
    conn: AsyncConn, team: str
) -> None:
    row = await SCHEDULES.insert(conn, _schedule(team))
    changed = await SCHEDULES.update(
        conn,
        row["id"],
        team,
        {"name": "renamed", "updated_by": "someone else"},
        exprs={"on_behalf_of": "name || ' (test)'"},
    )
    assert changed["name"] == "renamed"
    assert changed["on_behalf_of"] == "primary (test)"  # read before the row changed
    assert changed["updated_at"] >= row["updated_at"]
    with pytest.raises(NotFound):
        await SCHEDULES.update(conn, row["id"], team, {"name": "again"}, where="false")
    assert (await SCHEDULES.get_or_404(conn, row["id"], team))["name"] == "renamed"


async def test_a_table_without_update_time(conn: AsyncConn, team: str) -> None:
    keys = Table(
        name="api_keys",
        noun="API key",
        columns="id, name, team, revoked_at, revoked_by",
        order_by="id",
        touched=None,
    )
    values = {
        "name": "k",
        "prefix": "isk_test",
        "key_hash": uuid4().hex * 2,
        "scopes": ["incidents:read"],
        "team": team,
        "created_by": "test",
    }
    row = await keys.insert(conn, values)
    revoked = await keys.update(conn, row["id"], team, {"revoked_by": "test"})
    assert revoked["revoked_by"] == "test"
    await keys.delete(conn, row["id"], team, by="test")
    assert await keys.list(conn, team) == []


async def test_every_deletion_is_recorded_with_who_when_and_what(
    client,  # type: ignore[no-untyped-def]
    database_url: str,
    team: str,
) -> None:
    """Deleting a schedule, an override, a policy or a subscriber leaves a record naming
    the principal, the time and the row as the API showed it, never its secret."""
    schedule = await client.post(
        "/api/v1/oncall-schedules",
        json={"name": "primary", "timezone": "UTC", "team": team, "layers": LAYERS},
    )
    assert schedule.status_code == 201, schedule.text
    sid = schedule.json()["id"]
    override = await client.post(
        f"/api/v1/oncall-schedules/{sid}/overrides",
        json={
            "person": "grace",
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-02T00:00:00Z",
        },
    )
    assert override.status_code == 201, override.text
    policy = await client.post(
        "/api/v1/escalation-policies",
        json={
            "team": team,
            "name": "primary",
            "levels": [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": sid}]}],
        },
    )
    assert policy.status_code == 201, policy.text
    secret = f"s3cret-{team}"
    subscriber = await client.post(
        "/api/v1/subscribers",
        json={
            "name": f"hook-{team}",
            "kind": "webhook",
            "url": "http://127.0.0.1:9/hook",
            "secret": secret,
            "team": team,
        },
    )
    assert subscriber.status_code == 201, subscriber.text

    deletions = [
        f"/api/v1/oncall-schedules/{sid}/overrides/{override.json()['id']}",
        f"/api/v1/escalation-policies/{policy.json()['id']}",
        f"/api/v1/oncall-schedules/{sid}",
        f"/api/v1/subscribers/{subscriber.json()['id']}",
    ]
    for url in deletions:
        answer = await client.delete(url)
        assert answer.status_code == 204, (url, answer.text)

    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
        cur = await c.execute(
            "select resource, resource_id::text, row, deleted_by, deleted_at"
            " from config_deletions where team = %s order by id",
            (team,),
        )
        rows = await cur.fetchall()
    assert [r["resource"] for r in rows] == [
        "oncall_overrides",
        "escalation_policies",
        "oncall_schedules",
        "event_subscribers",
    ]
    assert [r["resource_id"] for r in rows] == [u.rsplit("/", 1)[-1] for u in deletions]
    assert {r["deleted_by"] for r in rows} == {"test-admin"}
    assert all(r["deleted_at"] is not None for r in rows)
    assert rows[2]["row"]["name"] == "primary"
    assert rows[2]["row"]["layers"][0]["participants"] == ["ada"]
    assert rows[3]["row"]["name"] == f"hook-{team}"
    assert "secret" not in rows[3]["row"] and secret not in str(rows[3]["row"])


def test_a_page_is_narrowed_by_the_filters_set_then_by_its_cursor() -> None:
    conditions = {"status": "status = %(status)s", "team": "team = %(team)s"}
    at, last = datetime(2025, 1, 1, tzinfo=UTC), uuid4()
    params: dict[str, object] = {"limit": 5}
    where = page_where(
        {"status": "open", "team": None},
        conditions,
        (at, last),
        keyset="(created_at, id)",
        params=params,
        also=["merged_into is null"],
    )
    assert where == (
        " where status = %(status)s and merged_into is null"
        " and (created_at, id) < (%(cursor_at)s, %(cursor_id)s)"
    )
    assert params == {"limit": 5, "status": "open", "cursor_at": at, "cursor_id": last}
    # Nothing set and no cursor: the first page of everything.
    nothing: dict[str, object] = {}
    assert page_where({}, conditions, None, keyset="(created_at, id)", params=nothing) == ""
    assert nothing == {}
