"""Alert ingestion: `POST /v2/enqueue` (PagerDuty Events API v2) at concurrency 1, 16, 64,
then a 10,000-alert flood over 50 dedup keys (which must open exactly 50 incidents).

Triggers cycle over 50 dedup keys, so most alerts join an open incident (an alert record,
a timeline entry and a group update under the key's lock) and a few open one. The floor,
measured in the same run on the same server: the alert row and its timeline entry
written straight through psycopg from 8 connections (one commit each, no HTTP, no lock).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from benchmarks.common import Summary, progress, running_service, scratch_database, summarize
from incident_service.integrations.schemas import IntegrationCreate
from incident_service.integrations.service import create_integration

LEVELS = (1, 16, 64)
FLOOR_CONNECTIONS = 8
KEYS = 50
FLOOD = 10_000


def _request(key: str, dedup_key: str) -> bytes:
    body = json.dumps(
        {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": f"Disk 95% full on {dedup_key}",
                "source": dedup_key,
                "severity": "error",
                "custom_details": {"free": "5%", "mount": "/var"},
            },
        }
    ).encode()
    return (
        b"POST /v2/enqueue HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


async def _worker(
    port: int,
    requests: itertools.cycle[bytes],
    stop_at: float,
    budget: list[int],
    out: list[int],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            if budget:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            started = time.perf_counter_ns()
            writer.write(next(requests))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if head[9:12] != b"202":
                errors.append(head[:12].decode())
                continue
            out.append(time.perf_counter_ns() - started)
    finally:
        writer.close()


async def _http(
    port: int, key: str, prefix: str, concurrency: int, seconds: float, total: int | None = None
) -> tuple[Summary, list[str]]:
    requests = itertools.cycle([_request(key, f"{prefix}-{i}") for i in range(KEYS)])
    latencies: list[int] = []
    errors: list[str] = []
    budget = [total] if total is not None else []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_worker(port, requests, stop_at, budget, latencies, errors) for _ in range(concurrency))
    )
    return summarize(latencies, time.perf_counter() - started), [e[9:12] for e in errors]


async def _floor(url: str, integration_id: str, incident_id: str, seconds: float) -> Summary:
    latencies: list[int] = []

    async def writer(stop_at: float) -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            while time.perf_counter() < stop_at:
                started = time.perf_counter_ns()
                await conn.execute(
                    "with a as (insert into alerts (integration_id, incident_id, dedup_key,"
                    " action, summary, payload) values (%s, %s, 'floor', 'trigger', 'x', %s)"
                    " returning id, incident_id) insert into incident_timeline (incident_id,"
                    " kind, actor) select incident_id, 'alert', 'bench' from a",
                    (integration_id, incident_id, Jsonb({"k": "v"})),
                )
                await conn.commit()
                latencies.append(time.perf_counter_ns() - started)

    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(writer(started + seconds) for _ in range(FLOOR_CONNECTIONS)))
    return summarize(latencies, time.perf_counter() - started)


async def _setup(url: str) -> tuple[str, str, str]:
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        created = await create_integration(
            conn,
            # Above any rate measured here: the limiter's statement runs on every request
            # (its cost is in the figures), but it refuses none.
            IntegrationCreate(
                kind="events-v2",
                team="bench",
                rate_limit_per_min=1_000_000,
                rate_limit_burst=1_000_000,
            ),
            actor="bench",  # type: ignore[arg-type]
        )
        cur = await conn.execute(
            "insert into incidents (incident_id, title, severity, status, assigned_team,"
            " created_by) values ('INC-BENCH-FLOOR', 'floor', 'SEV4_LOW', 'OPEN', 'bench',"
            " 'bench') returning incident_id"
        )
        row = await cur.fetchone()
        await conn.commit()
    assert created.integration_key is not None and row is not None
    return created.integration_key, created.integration_id, row["incident_id"]


def _row(name: str, s: Summary, floor: Summary, errors: int = 0) -> str:
    ratio = s.per_second / floor.per_second if floor.per_second else float("nan")
    return (
        f"| {name} | {s.count} | {s.per_second:,.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} "
        f"| {ratio:.2f} | {errors} |"
    )


def main(argv: Sequence[str]) -> int:
    seconds = float(next((a.split("=", 1)[1] for a in argv if a.startswith("--seconds=")), 5))
    with scratch_database("alerts_bench") as url:
        key, integration_id, floor_incident = asyncio.run(_setup(url))
        progress(f"floor: psycopg, {FLOOR_CONNECTIONS} connections, {seconds:.0f} s")
        floor = asyncio.run(_floor(url, integration_id, floor_incident, seconds))
        results: list[tuple[str, Summary, list[str]]] = []
        with running_service(url) as port:
            for level in LEVELS:
                progress(f"POST /v2/enqueue at concurrency {level}, {seconds:.0f} s")
                summary, errors = asyncio.run(_http(port, key, f"c{level}", level, seconds))
                results.append((f"HTTP, concurrency {level}", summary, errors))
            progress(f"flood: {FLOOD} alerts over {KEYS} dedup keys at concurrency 64")
            flood, flood_errors = asyncio.run(_http(port, key, "flood", 64, 600, total=FLOOD))
            results.append((f"flood {FLOOD} alerts, concurrency 64", flood, flood_errors))
        progress("floor again, to see drift over the run")
        floor_after = asyncio.run(_floor(url, integration_id, floor_incident, seconds))
        with psycopg.connect(url) as conn:
            opened = conn.execute(
                "select count(distinct incident_id) from alerts where dedup_key like 'flood-%'"
            ).fetchone()

    print(f"\nAlerts through /v2/enqueue, {seconds:.0f} s per row, one API process")
    print("| load | alerts | alerts/s | p50 ms | p99 ms | x floor | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(_row(f"floor: psycopg x{FLOOR_CONNECTIONS} (before)", floor, floor))
    for name, summary, codes in results:
        print(_row(name, summary, floor, len(codes)))
    print(_row(f"floor: psycopg x{FLOOR_CONNECTIONS} (after)", floor_after, floor))
    failed = Counter(code for _, _, codes in results for code in codes)
    if failed:
        print(f"Answers other than 202: {dict(failed)}")
    incidents = opened[0] if opened else 0
    print(f"\nFlood: {FLOOD} alerts over {KEYS} dedup keys opened {incidents} incidents")
    return 0 if incidents == KEYS else 1
