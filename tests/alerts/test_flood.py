"""Floods: concurrent alerts over few dedup keys make exactly one incident per key.

The 10,000-alert flood runs the request's own transaction (integration lookup, ingest,
commit) on a real pool of concurrent connections, without the HTTP layer, so that it
stays a few seconds on a shared machine; a 500-alert flood goes through `/v2/enqueue`.
`benchmarks/alerts.py` measures the HTTP path at full size against a served app.
"""

from __future__ import annotations

import asyncio
import random

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from incident_service.alerts import events_v2, service
from incident_service.integrations import service as integrations
from incident_service.integrations.schemas import IntegrationKind
from tests.alerts.conftest import make_integration

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first


def _event(key: str, dedup_key: str) -> dict[str, object]:
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": f"disk full ({dedup_key})", "source": "h", "severity": "error"},
    }


def _order(alerts: int, keys: int) -> list[str]:
    order = [f"flood-{i % keys}" for i in range(alerts)]
    random.Random(4).shuffle(order)
    return order


def _counts(database_url: str, team: str) -> tuple[int, list[tuple[str, int, int]]]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select count(*) from incidents where assigned_team = %s", (team,)
        ).fetchone()
        per_key = conn.execute(
            "select a.dedup_key, count(distinct a.incident_id), count(*) from alerts a"
            " join integrations i on i.id = a.integration_id where i.team = %s"
            " group by a.dedup_key",
            (team,),
        ).fetchall()
    assert row is not None
    return int(row[0]), [(str(r[0]), int(r[1]), int(r[2])) for r in per_key]


async def test_flood_of_10000_alerts_with_50_keys_makes_50_incidents(
    client, team, database_url
) -> None:
    alerts, keys = 10_000, 50
    key = (await make_integration(client, team, "events-v2"))["integration_key"]
    bodies = [events_v2.json_bytes(_event(key, k)) for k in _order(alerts, keys)]
    async with AsyncConnectionPool(
        database_url, min_size=16, max_size=16, kwargs={"row_factory": dict_row}, open=False
    ) as pool:

        async def one(body: bytes) -> str:
            routing_key, alert = events_v2.parse(body)
            async with pool.connection() as conn:  # commits at exit, as a request does
                integration = await integrations.by_key(
                    conn,
                    routing_key,
                    frozenset({IntegrationKind.EVENTS_V2}),
                    lock_dedup_key=alert.dedup_key,
                )
                done = await service.ingest(conn, integration, alert, locked=True)
            return done.dedup_key

        gate = asyncio.Semaphore(32)

        async def bounded(body: bytes) -> str:
            async with gate:
                return await one(body)

        results = await asyncio.gather(*(bounded(b) for b in bodies))
    assert len(results) == alerts

    incidents, per_key = _counts(database_url, team)
    assert incidents == keys
    assert len(per_key) == keys
    assert all(distinct == 1 for _, distinct, _ in per_key), "one incident per dedup key"
    assert sum(n for _, _, n in per_key) == alerts, "every alert stored"


async def test_concurrent_flood_through_the_api(client, team, database_url) -> None:
    alerts, keys = 500, 10
    # Above the flood's rate: this measures ingestion, not the intake limit (test_control).
    unlimited = {"rate_limit_per_min": 1_000_000, "rate_limit_burst": 1_000_000}
    key = (await make_integration(client, team, "events-v2", **unlimited))["integration_key"]
    gate = asyncio.Semaphore(48)

    async def send(dedup_key: str) -> int:
        async with gate:
            response = await client.post("/v2/enqueue", json=_event(key, dedup_key))
        assert response.json()["dedup_key"] == dedup_key
        return response.status_code

    statuses = await asyncio.gather(*(send(k) for k in _order(alerts, keys)))
    assert set(statuses) == {202}
    incidents, per_key = _counts(database_url, team)
    assert incidents == keys
    assert sorted(n for _, _, n in per_key) == [alerts // keys] * keys
