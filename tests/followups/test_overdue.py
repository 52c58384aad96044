"""Overdue follow-ups: one `follow_up_overdue` timeline entry and event each, raised by the
worker's sweep. The rules in a rolled-back transaction (the clock moved by moving due
dates back), then a real worker end to end over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.rows import dict_row

from incident_service.db import AsyncConn
from incident_service.followups.overdue import raise_overdue
from testkit.targets import StandIn, targets_env
from testkit.worker import QUICK_WORKER, Worker, query, worker_env
from tests.conftest import feed_until, new_incident
from tests.responses.conftest import (  # noqa: F401  (shared workflow fixtures)
    standin,
    wf_client,
    wf_database_url,
    wf_key,
    wf_settings,
)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConn]:
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
        yield c
        await c.rollback()


async def _follow_up(client, team: str, **body: Any) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident_id"]
    made = await client.post(
        f"/api/v1/incidents/{incident_id}/follow-ups", json={"title": "Add a canary", **body}
    )
    assert made.status_code == 201, made.text
    return incident_id, made.json()["follow_up_id"]


async def _sweep(conn: AsyncConn, follow_up_id: str) -> int:
    """Rounds until nothing more is due; how many entries `follow_up_id` has now."""
    while await raise_overdue(conn, 500) == 500:
        pass
    cur = await conn.execute(
        "select count(*) as n from incident_timeline where kind = 'follow_up_overdue'"
        " and details ->> 'follow_up_id' = %s",
        (follow_up_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def _move_due(conn: AsyncConn, follow_up_id: str, by: timedelta) -> None:
    await conn.execute(
        "update follow_ups set due_at = due_at + %s where id = %s", (by, follow_up_id)
    )


async def test_raised_once_per_due_instant_and_only_while_to_do(
    client: AsyncTestClient,  # type: ignore[type-arg]
    conn: AsyncConn,
    team: str,
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    _, due_later = await _follow_up(client, team, due=future)
    _, closed = await _follow_up(client, team, due=future)
    _, undated = await _follow_up(client, team)
    assert (await client.patch(f"/api/v1/follow-ups/{closed}", json={"state": "done"})).is_success

    assert await _sweep(conn, due_later) == 0  # not due yet
    await _move_due(conn, due_later, -timedelta(days=5))
    await _move_due(conn, closed, -timedelta(days=5))
    assert await _sweep(conn, due_later) == 1
    assert await _sweep(conn, due_later) == 1  # a second round raises nothing more
    assert await _sweep(conn, closed) == 0  # done: never overdue
    assert await _sweep(conn, undated) == 0  # no due date: never overdue
    # The due date moved later and passed again: said again, once.
    await _move_due(conn, due_later, timedelta(hours=1))
    assert await _sweep(conn, due_later) == 2
    assert await _sweep(conn, due_later) == 2
    cur = await conn.execute(
        "select payload from outbox where event_type = 'follow_up_overdue'"
        " and payload ->> 'follow_up_id' = %s",
        (due_later,),
    )
    payloads = [r["payload"] for r in await cur.fetchall()]
    assert len(payloads) == 2
    assert {(p["actor"], p["state"], p["assigned_team"]) for p in payloads} == {
        ("system", "open", team)
    }


@pytest.fixture
def overdue_worker(
    wf_database_url: str,  # noqa: F811
    standin: StandIn,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("overdue-worker") / "worker.log"
    env = worker_env(wf_database_url, QUICK_WORKER, targets_env(standin))
    worker = Worker(env, log).start().wait_ready()
    yield worker
    worker.stop()


async def test_the_worker_says_it_once_in_the_feed_and_on_the_timeline(
    wf_client: AsyncTestClient,  # type: ignore[type-arg]  # noqa: F811
    wf_database_url: str,  # noqa: F811
    overdue_worker: Worker,
    team: str,
) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    incident_id, follow_up_id = await _follow_up(wf_client, team, due=due, priority="high")
    user = query(
        wf_database_url, "insert into users (name, created_by) values ('Bo', 't') returning id"
    )[0][0]
    owned = await wf_client.patch(
        f"/api/v1/follow-ups/{follow_up_id}", json={"owner_id": str(user)}
    )
    assert owned.status_code == 200, owned.text

    events = await feed_until(
        wf_client,
        {"incident_id": incident_id, "limit": 1000},
        lambda evs: any("follow_up_overdue" in e for e in evs),
    )
    (raised,) = [e["follow_up_overdue"] for e in events if "follow_up_overdue" in e]
    assert raised["follow_up_id"] == follow_up_id
    assert (raised["owner_id"], raised["priority"], raised["actor"]) == (
        str(user),
        "high",
        "system",
    )
    assert raised["assigned_team"] == team
    # Several sweep rounds later, still one.
    await asyncio.sleep(3.0)
    timeline = (await wf_client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    (entry,) = [e for e in timeline if e["kind"] == "follow_up_overdue"]
    assert entry["actor"] == "system" and "owner Bo" in entry["note"]
    assert entry["details"]["follow_up_id"] == follow_up_id
    got = (await wf_client.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
    assert got["overdue"] is True
    count = query(
        wf_database_url,
        "select count(*) from outbox where event_type = 'follow_up_overdue'"
        " and payload ->> 'follow_up_id' = %s",
        (follow_up_id,),
    )
    assert count == [(1,)]
