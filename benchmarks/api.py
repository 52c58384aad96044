"""Incident creation under load: `POST /api/v1/incidents` at concurrency 1, 16 and 64;
then the rate limiter's cost per request under each store (off, in-process, PostgreSQL,
Redis: REDIS_URL names the Redis, default this machine's).

Every request is rate-limited by the default store (shared, PostgreSQL) with one API key
whose rate it cannot reach: the key leases the largest lease (`ratelimit.lease_size`), so
its shared row is written once per 100 requests. The limiter rows also time a key that
leases one token at a time (a key of a few requests a second): one store call a request.

The floor, measured in the same run on the same database server: the same rows written
straight through psycopg from 8 connections (the service's own create statement, one
commit per incident, no HTTP). The load generator is a minimal keep-alive HTTP/1.1 client
on asyncio in this process, so its cost per request is small and the server's dominates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Sequence
from uuid import uuid4

import psycopg
from psycopg.rows import dict_row

from benchmarks.common import (
    Summary,
    admin_key,
    load_average,
    progress,
    running_service,
    scratch_database,
    summarize,
)
from incident_service.auth.ratelimit import (
    PostgresLimiter,
    ProcessLimiter,
    RateLimiter,
    RedisLimiter,
)
from incident_service.config import Settings
from incident_service.db import make_pool
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
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# The rate-limit stores (settings RATE_LIMIT_STORE, REDIS_URL), each in a service of its own.
LIMITERS: tuple[tuple[str, dict[str, str]], ...] = (
    ("off", {"RATE_LIMIT_STORE": "off"}),
    ("in-process", {"RATE_LIMIT_STORE": "process"}),
    ("PostgreSQL", {"RATE_LIMIT_STORE": "shared", "REDIS_URL": ""}),
    ("Redis", {"RATE_LIMIT_STORE": "shared", "REDIS_URL": REDIS_URL}),
)
LIMITER_LEVELS = (1, 16)
LIMITER_POOL = {"DB_POOL_MIN_SIZE": "2", "DB_POOL_MAX_SIZE": "8"}
ROUNDS = 5


def _create_request(key: str) -> bytes:
    body = json.dumps(BODY).encode()
    return (
        b"POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _read_request(key: str, incident_id: str) -> bytes:
    return (
        f"GET /api/v1/incidents/{incident_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    ).encode()


async def _http_worker(
    port: int, request: bytes, ok: bytes, stop_at: float, out: list[int], errors: list[str]
) -> None:
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
            if head[9:12] != ok:
                errors.append(head[:12].decode())
                continue
            out.append(elapsed)
    finally:
        writer.close()


async def _http_run(
    port: int, request: bytes, concurrency: int, seconds: float, ok: bytes
) -> tuple[list[int], list[str], float]:
    latencies: list[int] = []
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    # A bound on the whole run, not on each read (a timer per request would be measured):
    # a service that stops answering fails the benchmark instead of hanging it.
    await asyncio.wait_for(
        asyncio.gather(
            *(
                _http_worker(port, request, ok, stop_at, latencies, errors)
                for _ in range(concurrency)
            )
        ),
        seconds + 60,
    )
    return latencies, errors, time.perf_counter() - started


async def _http_level(
    port: int, request: bytes, concurrency: int, seconds: float, ok: bytes = b"201"
) -> tuple[Summary, int]:
    await _http_run(port, request, concurrency, 0.5, ok)  # a short warm-up, not counted
    latencies, errors, elapsed = await _http_run(port, request, concurrency, seconds, ok)
    return summarize(latencies, elapsed), len(errors)


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


def _limiters(url: str, seconds: float) -> list[tuple[str, int, Summary, int]]:
    """`GET /api/v1/incidents/{id}` (a cheap authenticated request, so the limiter's share
    shows) against one service per rate-limit store, all running at once and driven in
    turns of `seconds / ROUNDS`, so that the load around them falls on each alike."""
    key = admin_key(url)
    with psycopg.connect(url) as conn:
        row = conn.execute("select incident_id from incidents limit 1").fetchone()
    assert row is not None, "the creation runs left incidents to read"
    request = _read_request(key, row[0])
    results = []
    with contextlib.ExitStack() as stack:
        # Small pools: four services at once on a shared PostgreSQL (same size for each).
        ports = [
            (name, stack.enter_context(running_service(url, env=env | LIMITER_POOL)))
            for name, env in LIMITERS
        ]

        async def level_run(level: int) -> list[tuple[str, int, Summary, int]]:
            latencies: dict[str, list[int]] = {name: [] for name, _ in ports}
            errors = dict.fromkeys(latencies, 0)
            elapsed = dict.fromkeys(latencies, 0.0)
            for _, port in ports:
                await _http_run(port, request, level, 0.5, b"200")  # warm-up
            for turn in range(ROUNDS):
                for name, port in ports[turn % len(ports) :] + ports[: turn % len(ports)]:
                    lat, err, took = await _http_run(port, request, level, seconds / ROUNDS, b"200")
                    latencies[name] += lat
                    errors[name] += len(err)
                    elapsed[name] += took
            return [(n, level, summarize(latencies[n], elapsed[n]), errors[n]) for n in latencies]

        for level in LIMITER_LEVELS:
            progress(f"GET one incident, each limiter, concurrency {level}, {seconds:.1f} s each")
            results += asyncio.run(level_run(level))
    return results


async def _limiter_calls(url: str, seconds: float) -> list[tuple[str, Summary]]:
    """One limiter call at a time, as the guard makes it: the cost each store adds to a
    request, without HTTP. Stores take turns as above, each on a key of its own."""
    pool = make_pool(url, Settings(database_url=url))
    await pool.open()
    stores: list[tuple[str, RateLimiter]] = [
        ("in-process", ProcessLimiter()),
        ("PostgreSQL, leases of 100", PostgresLimiter()),
        ("PostgreSQL, one token a call", PostgresLimiter(lease_s=0)),
        ("Redis, leases of 100", RedisLimiter(REDIS_URL)),
        ("Redis, one token a call", RedisLimiter(REDIS_URL, lease_s=0)),
    ]
    latencies: dict[str, list[int]] = {name: [] for name, _ in stores}
    elapsed = dict.fromkeys(latencies, 0.0)
    keys = {name: uuid4() for name, _ in stores}
    try:
        for turn in range(-1, ROUNDS):  # turn -1: warm-up, not counted
            for name, store in stores:
                out: list[int] = []
                started = time.perf_counter()
                stop_at = started + (0.2 if turn < 0 else seconds / ROUNDS)
                while time.perf_counter() < stop_at:
                    t0 = time.perf_counter_ns()
                    await store.wait(pool, keys[name], 1e6, 1e7)
                    out.append(time.perf_counter_ns() - t0)
                if turn >= 0:
                    latencies[name] += out
                    elapsed[name] += time.perf_counter() - started
    finally:
        for _, store in stores:
            await store.aclose(pool)
        await pool.close()
    return [(name, summarize(latencies[name], elapsed[name])) for name, _ in stores]


def main(argv: Sequence[str]) -> int:
    seconds = float(next((a.split("=", 1)[1] for a in argv if a.startswith("--seconds=")), 10))
    workers = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--workers=")), 1))
    load_before = load_average()
    with scratch_database() as url:
        key = admin_key(url)
        progress(f"floor: psycopg, {FLOOR_CONNECTIONS} connections, {seconds:.0f} s")
        floor = asyncio.run(_floor(url, seconds))
        results: list[tuple[int, Summary, int]] = []
        with running_service(url, workers=workers) as port:
            for level in LEVELS:
                progress(f"POST /api/v1/incidents at concurrency {level}, {seconds:.0f} s")
                summary, errors = asyncio.run(
                    _http_level(port, _create_request(key), level, seconds)
                )
                results.append((level, summary, errors))
        limiters = _limiters(url, seconds / 2)
        progress(f"each limiter's call alone, {seconds / 2:.1f} s each")
        calls = asyncio.run(_limiter_calls(url, seconds / 2))
        progress("floor again, to see drift over the run")
        floor_after = asyncio.run(_floor(url, seconds))
    load_after = load_average()

    print(f"\nIncident creation, {seconds:.0f} s per row, API with {workers} worker process(es)")
    print(f"load average (uptime) before: {load_before}; after: {load_after}")
    print("| load | requests | req/s | p50 ms | p99 ms | p99.9 ms | x floor | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(_row(f"floor: psycopg x{FLOOR_CONNECTIONS} (before)", floor, floor))
    for level, summary, errors in results:
        print(_row(f"HTTP, concurrency {level}", summary, floor, errors))
    print(_row(f"floor: psycopg x{FLOOR_CONNECTIONS} (after)", floor_after, floor))

    print(
        f"\nRate limiter cost: GET one incident, {seconds / 2:.1f} s per row in {ROUNDS} turns,"
        " one API process per store; + ms: the median's difference to the limiter off"
    )
    print("| limiter | concurrency | requests | req/s | p50 ms | p99 ms | + ms p50 | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    off = {level: s for name, level, s, _ in limiters if name == "off"}
    for name, level, s, errors in limiters:
        print(
            f"| {name} | {level} | {s.count} | {s.per_second:,.0f} | {s.p50_ms:.3f} "
            f"| {s.p99_ms:.3f} | {s.p50_ms - off[level].p50_ms:+.3f} | {errors} |"
        )

    print(f"\nOne limiter call, no HTTP, {seconds / 2:.1f} s each in {ROUNDS} turns")
    print("| store | calls | p50 ms | p99 ms | p99.9 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, s in calls:
        print(f"| {name} | {s.count} | {s.p50_ms:.3f} | {s.p99_ms:.3f} | {s.p999_ms:.3f} |")

    by_level = {level: s for level, s, _ in results}
    checks = [
        ("c=1 p50 < 2 ms", by_level[1].p50_ms < 2),
        ("c=1 p99 < 10 ms", by_level[1].p99_ms < 10),
        ("c=16 >= 0.5 x floor", by_level[16].per_second >= 0.5 * floor.per_second),
        ("c=16 p99 < 50 ms", by_level[16].p99_ms < 50),
    ]
    print("\nGoals: " + ", ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks))
    return 0
