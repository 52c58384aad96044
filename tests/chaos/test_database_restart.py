"""PostgreSQL crashes and restarts under load: nothing that was accepted is lost.

The API runs as `incident-service serve` against a PostgreSQL of the test's own, which is
crashed (immediate stop) mid-load and started again. Clients send creates with
Idempotency-Keys and retry on 503 or a cut connection, as a well-behaved client does.
Checked: the API answers 503 with Retry-After while the database is down, recovers by
itself, every incident that got a 201 is in the database with its creation event, the
event feed has each exactly once, and retries created no duplicates.

Bounded here (a few seconds of load); `make chaos` runs it longer (CHAOS_SECONDS).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest

from incident_service.migrate import apply_migrations
from testkit.databases import make_api_key
from testkit.server import served
from testkit.throwaway_pg import ThrowawayPostgres
from tests.conftest import new_incident

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

LOAD_SECONDS = float(os.environ.get("CHAOS_SECONDS", "6"))
DOWN_SECONDS = float(os.environ.get("CHAOS_DOWN_SECONDS", "3"))
CLIENTS = 8


@dataclass
class Tally:
    sent: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> incident id
    unavailable: int = 0
    unavailable_without_retry_after: int = 0
    cut: int = 0
    other: Counter[int] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)


async def _client(
    base: str, headers: dict[str, str], team: str, stop: asyncio.Event, t: Tally
) -> None:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
        while not stop.is_set():
            key = uuid.uuid4().hex
            while True:  # one incident: retried until accepted, like a real client
                t.sent += 1
                try:
                    response = await http.post(
                        "/api/v1/incidents",
                        json=new_incident(team),
                        headers={"Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    t.cut += 1
                    await asyncio.sleep(0.1)
                    continue
                if response.status_code == 201:
                    t.accepted[key] = response.json()["incident_id"]
                    t.accepted_at.append(time.monotonic())
                    break
                if response.status_code == 503:
                    t.unavailable += 1
                    if "retry-after" not in response.headers:
                        t.unavailable_without_retry_after += 1
                    await asyncio.sleep(0.2)  # shorter than Retry-After: keeps the test short
                    continue
                t.other[response.status_code] += 1
                break


def test_database_restart_under_load_loses_nothing(capsys) -> None:
    pg = ThrowawayPostgres()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(pg.destroy)
        apply_migrations(pg.url)
        key = make_api_key(pg.url, name="chaos", scopes=["admin"], rate_limit=1_000_000)
        headers = {"Authorization": f"Bearer {key}"}
        base, _proc = cleanup.enter_context(served(pg.url))
        team = f"chaos-{uuid.uuid4().hex[:6]}"
        tally = Tally()
        timeline: dict[str, float] = {}

        async def scenario() -> None:
            # The load runs until a while after the database is back, however long its
            # restart takes (crash recovery on a busy machine can take several seconds).
            stop = asyncio.Event()
            clients = [
                asyncio.create_task(_client(base, headers, team, stop, tally))
                for _ in range(CLIENTS)
            ]
            await asyncio.sleep(LOAD_SECONDS / 3)
            timeline["down"] = time.monotonic()
            await asyncio.to_thread(pg.crash)
            await asyncio.sleep(DOWN_SECONDS / 2)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=5) as http:
                during = await http.post("/api/v1/incidents", json=new_incident(team))
                ready = await http.get("/ready")
            timeline["during_status"] = during.status_code
            timeline["during_retry_after"] = float(during.headers.get("retry-after", "nan"))
            timeline["ready_status"] = ready.status_code
            await asyncio.sleep(DOWN_SECONDS / 2)
            await asyncio.to_thread(pg.start)
            timeline["up"] = time.monotonic()
            await asyncio.sleep(max(2.0, LOAD_SECONDS / 3))
            stop.set()
            await asyncio.gather(*clients)

        asyncio.run(scenario())
        after_up = [t for t in tally.accepted_at if t > timeline["up"]]
        recovery_s = (min(after_up) - timeline["up"]) if after_up else float("inf")

        with psycopg.connect(pg.url) as conn:
            stored = {
                r[0]
                for r in conn.execute(
                    "select incident_id from incidents where assigned_team = %s", (team,)
                )
            }
            created_events = conn.execute(
                "select count(*) from outbox o join incidents i using (incident_id)"
                " where i.assigned_team = %s and o.event_type = 'incident_created'",
                (team,),
            ).fetchone()
            with_event = {
                r[0]
                for r in conn.execute(
                    "select o.incident_id from outbox o join incidents i using (incident_id)"
                    " where i.assigned_team = %s and o.event_type = 'incident_created'",
                    (team,),
                )
            }
        feed: list[str] = []
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            after = None
            while True:
                params: dict[str, str | int] = {"limit": 1000}
                if after:
                    params["after"] = after
                page = http.get("/api/v1/events", params=params).json()
                if not page:
                    break
                after = page[-1]["event_id"]
                feed += [
                    e["incident_created"]["incident_id"]
                    for e in page
                    if "incident_created" in e and e["incident_created"]["assigned_team"] == team
                ]

        accepted = set(tally.accepted.values())
        lost = accepted - stored
        duplicates = len(stored) - len(accepted)
        with capsys.disabled():
            print(
                f"\n[chaos: PostgreSQL restart] requests sent {tally.sent}, accepted (201) "
                f"{len(accepted)}, answered 503 {tally.unavailable}, connections cut "
                f"{tally.cut}, lost {len(lost)}, duplicated {duplicates}, database down "
                f"{timeline['up'] - timeline['down']:.1f} s, recovery after it returned "
                f"{recovery_s:.2f} s"
            )
        assert timeline["during_status"] == 503 and timeline["during_retry_after"] >= 1
        assert timeline["ready_status"] == 503
        assert tally.unavailable > 0 and tally.unavailable_without_retry_after == 0
        assert not tally.other, tally.other
        assert lost == set(), "every 201 is in the database"
        assert stored == accepted, "retried requests created no duplicates"
        assert with_event == stored, "every stored incident has its creation event"
        assert created_events is not None and created_events[0] == len(stored), "exactly one"
        duplicated_in_feed = sorted(i for i, n in Counter(feed).items() if n > 1)
        assert not duplicated_in_feed, f"delivered twice: {duplicated_in_feed}"
        assert sorted(feed) == sorted(stored), "the feed has each creation event exactly once"
        assert after_up, "the service recovered by itself"
