"""Incident creation under load: `POST /api/v1/incidents` at concurrency 1, 16 and 64.

The floor, measured in the same run on the same database server: the same rows written
straight through psycopg from 8 connections (the service's own create statement, one
commit per incident, no HTTP). The load generator is a minimal keep-alive HTTP/1.1 client
on asyncio in this process, so its cost per request is small and the server's dominates.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row

from benchmarks.common import (
    Summary,
    admin_key,
    progress,
    running_service,
    scratch_database,
    summarize,
)
from incident_service.incidents import repository

BODY = {
    "title": "Portfolio Management Service High Latency",
    "description": "p99 latency above 2 s on the order path",
    "severity": "SEV2_HIGH",
    "affected_services": ["portfolio_management_service", "pricing"],
    "assigned_team": "platform-team",
}
LEVELS = (1, 16, 64)
FLOOR_CONNECTIONS = 8


async def _http_worker(
    port: int, key: str, stop_at: float, out: list[int], errors: list[str]
) -> None:
    body = json.dumps(BODY).encode()
    request = (
        b"POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter_ns()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            elapsed = time.perf_counter_ns() - started
            if head[9:12] != b"201":
                errors.append(head[:12].decode())
                continue
            out.append(elapsed)
    finally:
        writer.close()


async def _http_level(port: int, key: str, concurrency: int, seconds: float) -> tuple[Summary, int]:
    # A short warm-up at the same concurrency, not counted.
    await asyncio.gather(
        *(_http_worker(port, key, time.perf_counter() + 0.5, [], []) for _ in range(concurrency))
    )
    latencies: list[int] = []
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_http_worker(port, key, stop_at, latencies, errors) for _ in range(concurrency))
    )
    return summarize(latencies, time.perf_counter() - started), len(errors)


async def _floor(url: str, seconds: float) -> Summary:
    values = {**BODY, "actor": "bench", "assignee": None}
    latencies: list[int] = []

    async def writer(stop_at: float) -> None:
        async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
            while time.perf_counter() < stop_at:
                started = time.perf_counter_ns()
                await repository.insert_incident(conn, values)  # type: ignore[arg-type]
                await conn.commit()
                latencies.append(time.perf_counter_ns() - started)

    await asyncio.gather(*(writer(time.perf_counter() + 0.5) for _ in range(FLOOR_CONNECTIONS)))
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(writer(started + seconds) for _ in range(FLOOR_CONNECTIONS)))
    return summarize(latencies, time.perf_counter() - started)


def _row(name: str, s: Summary, floor: Summary, errors: int = 0) -> str:
    ratio = s.per_second / floor.per_second if floor.per_second else float("nan")
    return (
        f"| {name} | {s.count} | {s.per_second:,.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} "
        f"| {s.p999_ms:.2f} | {ratio:.2f} | {errors} |"
    )


def main(argv: Sequence[str]) -> int:
    seconds = float(next((a.split("=", 1)[1] for a in argv if a.startswith("--seconds=")), 10))
    workers = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--workers=")), 1))
    with scratch_database() as url:
        key = admin_key(url)
        progress(f"floor: psycopg, {FLOOR_CONNECTIONS} connections, {seconds:.0f} s")
        floor = asyncio.run(_floor(url, seconds))
        results: list[tuple[int, Summary, int]] = []
        with running_service(url, workers=workers) as port:
            for level in LEVELS:
                progress(f"POST /api/v1/incidents at concurrency {level}, {seconds:.0f} s")
                summary, errors = asyncio.run(_http_level(port, key, level, seconds))
                results.append((level, summary, errors))
        progress("floor again, to see drift over the run")
        floor_after = asyncio.run(_floor(url, seconds))

    print(f"\nIncident creation, {seconds:.0f} s per row, API with {workers} worker process(es)")
    print("| load | requests | req/s | p50 ms | p99 ms | p99.9 ms | x floor | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(_row(f"floor: psycopg x{FLOOR_CONNECTIONS} (before)", floor, floor))
    for level, summary, errors in results:
        print(_row(f"HTTP, concurrency {level}", summary, floor, errors))
    print(_row(f"floor: psycopg x{FLOOR_CONNECTIONS} (after)", floor_after, floor))

    by_level = {level: s for level, s, _ in results}
    checks = [
        ("c=1 p50 < 2 ms", by_level[1].p50_ms < 2),
        ("c=1 p99 < 10 ms", by_level[1].p99_ms < 10),
        ("c=16 >= 0.5 x floor", by_level[16].per_second >= 0.5 * floor.per_second),
        ("c=16 p99 < 50 ms", by_level[16].p99_ms < 50),
    ]
    print("\nGoals: " + ", ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks))
    return 0
