"""Full-text search: `GET /api/v1/search` over 100,000 incidents with a million timeline
entries (and alerts and post-mortems), by query shape.

The data is generated in the scratch database with `generate_series`: text drawn from a
vocabulary of incident words with a skewed (Zipf-like) frequency, so that common words
match a large part of the record and rare ones a handful, plus one service name per text
(`svc<n>`, 50,000 of them: the rare words) and one from a long tail of component names.
Each shape's searches run one at a time through the search service (statement, snippets,
page) on one connection, without HTTP (the API's own cost per request is measured by
`BENCH=api`). The floor, measured in the same run on the same server: the incident
service's lookup of one incident by id.
Each shape's statement is also EXPLAIN ANALYZEd to show which indexes it used.

Generating the data takes minutes on the shared machine: with `BENCH_SEARCH_DATABASE_URL`
naming a database already generated this way, the run measures on it instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from benchmarks.common import (
    Summary,
    load_average,
    progress,
    scratch_database,
    summarize,
)
from incident_service.db import AsyncConn
from incident_service.incidents import repository as incidents
from incident_service.search import repository, service
from incident_service.search.service import RANK_WINDOW

INCIDENTS = 100_000
TIMELINE_PER_INCIDENT = 10
ALERTS = 200_000
POSTMORTEMS = 30_000
TEAMS = 20
SERVICES = 50_000
REQUESTS = 100

# Most frequent first: the generator draws index floor(n * u^2.5), so the head of the list
# is common and the tail rare.
_VOCABULARY_TEXT = """
error database latency timeout connection service deploy restart rollback pod memory
cpu disk queue replica request failed alert cache network api customer outage degraded
spike increase load traffic upstream downstream gateway certificate dns config release
node cluster kafka postgres redis index lock deadlock retry throttled quota storage
volume backup snapshot migration schema query slow p99 healthcheck probe container
kubernetes scheduler autoscaler capacity region zone failover primary standby lag
replication consumer producer partition offset broker payment checkout login session
token auth password oauth webhook callback batch job cron worker thread pool leak
garbage collection heap oom killed evicted throttling bandwidth packet loss jitter
firewall loadbalancer ingress egress proxy nginx envoy mesh sidecar tls handshake
expired rotated secret vault key permission denied forbidden unauthorized corrupted
checksum mismatch duplicate missing orphaned stale inconsistent drift flapping
intermittent sporadic cascading saturation backlog pagination search indexer crawler
feed notification email sms push mobile ios android browser frontend backend monolith
microservice contract version flag feature toggle experiment canary bluegreen hotfix
patch revert bisect regression benchmark profiling trace span metric dashboard grafana
prometheus alertmanager pagerduty oncall escalation runbook postmortem mitigation
workaround root cause contributing factor action item
"""
VOCABULARY = _VOCABULARY_TEXT.split()

Shape = tuple[str, Callable[[random.Random], dict[str, str]]]

COMMON = VOCABULARY[:5]


def _shapes() -> list[Shape]:
    return [
        ("rare word (svc<n>)", lambda r: {"q": f"svc{r.randrange(SERVICES)}"}),
        ("common word", lambda r: {"q": r.choice(COMMON)}),
        ("two common words", lambda r: {"q": " ".join(r.sample(COMMON, 2))}),
        ("phrase", lambda r: {"q": f'"{r.choice(COMMON)} {r.choice(VOCABULARY[5:40])}"'}),
        (
            "common word, team filter",
            lambda r: {"q": r.choice(COMMON), "team": f"team-{r.randrange(TEAMS):02d}"},
        ),
        (
            "common word, status filter",
            lambda r: {"q": r.choice(COMMON), "status": "INVESTIGATING"},
        ),
        (
            "rare word, team filter",
            lambda r: {
                "q": f"svc{r.randrange(SERVICES)}",
                "team": f"team-{r.randrange(TEAMS):02d}",
            },
        ),
    ]


def _words(count: str, salt: str) -> str:
    """SQL for `count` words drawn from the vocabulary (`%(vocab)s`), skewed to its head.
    `salt` references the outer row so the subquery is evaluated per row."""
    return (
        "(select string_agg((%(vocab)s::text[])[1 + floor(power(random(), 2.5)"
        f" * cardinality(%(vocab)s::text[]))::int], ' ') from generate_series(1, {count}"
        f" + 0 * {salt}))"
    )


def _generate(url: str) -> dict[str, int]:
    params: dict[str, Any] = {"vocab": VOCABULARY}
    # A service name (rare), and a component name from a long tail (`c1` in half the
    # texts, `c100` in 1 of 20,000): real text has words of every frequency, which is what
    # lets the planner's statistics tell a rare word from a common one.
    svc = (
        f"' svc' || floor(random() * {SERVICES})::int"
        " || ' c' || floor(1 / (random() * 0.9999 + 0.0001))::int"
    )
    statuses = (
        "(array['OPEN','ACKNOWLEDGED','INVESTIGATING','IDENTIFIED','MONITORING',"
        "'RESOLVED','CLOSED'])"
    )
    severities = "(array['SEV1_CRITICAL','SEV2_HIGH','SEV3_MEDIUM','SEV4_LOW'])"
    with psycopg.connect(url, autocommit=True) as conn:
        progress(f"{INCIDENTS:,} incidents")
        conn.execute(
            "insert into incidents (incident_id, title, description, severity, status,"
            " assigned_team, created_by, created_at, updated_at)"
            " select 'INC-B-' || n, initcap(" + _words("5", "n") + f") || {svc},"
            " " + _words("25", "n") + f" || {svc},"
            f" {severities}[1 + mod(n, 4)], {statuses}[1 + mod(n / 4, 7)],"
            f" 'team-' || lpad(mod(n, {TEAMS})::text, 2, '0'), 'bench',"
            " now() - (n || ' minutes')::interval * 6, now()"
            f" from generate_series(1, {INCIDENTS}) as n",
            params,
        )
        progress(f"{INCIDENTS * TIMELINE_PER_INCIDENT:,} timeline entries (70% with a note)")
        # In chunks: one statement would hold every row's text in memory at once.
        chunk = 10_000
        for start in range(1, INCIDENTS + 1, chunk):
            conn.execute(
                "insert into incident_timeline (incident_id, kind, actor, note, occurred_at)"
                " select 'INC-B-' || i, case when x.noted then 'note' else 'status_changed'"
                " end, 'bench', case when x.noted then " + _words("12", "k") + f" || {svc} end,"
                " now() - (i || ' minutes')::interval * 6 + (k || ' minutes')::interval"
                f" from generate_series({start}, {min(start + chunk - 1, INCIDENTS)}) as i,"
                f" generate_series(1, {TIMELINE_PER_INCIDENT}) as k,"
                " lateral (select random() + 0 * k < 0.7 as noted) as x",
                params,
            )
        progress(f"{ALERTS:,} alerts")
        integration = conn.execute(
            "insert into integrations (kind, name, team, created_by)"
            " values ('events-v2', 'bench', 'team-00', 'bench') returning id"
        ).fetchone()
        assert integration is not None
        conn.execute(
            "insert into alerts (integration_id, incident_id, dedup_key, action, summary,"
            " source, payload, received_at)"
            " select %(integration)s, 'INC-B-' || (1 + mod(n, " + str(INCIDENTS) + ")),"
            " 'k' || n, 'trigger', " + _words("6", "n") + f" || {svc}, 'host-' || mod(n, 500),"
            " '{}'::jsonb, now() - (n || ' minutes')::interval * 3"
            f" from generate_series(1, {ALERTS}) as n",
            params | {"integration": integration[0]},
        )
        progress(f"{POSTMORTEMS:,} post-mortems")
        conn.execute(
            "insert into postmortems (incident_id, document, markdown, generated_by,"
            " generated_at)"
            " select incident_id, '{}'::jsonb, '# ' || title || E'\\n\\n' || description"
            " || E'\\n\\n## Timeline\\n\\n' || " + _words("120", "n") + ", 'bench', created_at"
            " from (select incident_id, title, description, created_at,"
            " row_number() over () as n from incidents"
            " where status in ('RESOLVED', 'CLOSED') limit " + str(POSTMORTEMS) + ") as r",
            params,
        )
        progress("vacuum analyze (GIN pending lists merged, statistics)")
        conn.execute("vacuum analyze")
    return _counts(url)


def _counts(url: str) -> dict[str, int]:
    counts = {}
    with psycopg.connect(url) as conn:
        for table in ("incidents", "incident_timeline", "alerts", "postmortems"):
            row = conn.execute(f"select count(*) from {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


async def _explain(url: str, shapes: list[Shape]) -> list[tuple[str, str, float]]:
    """Per shape: the search indexes its plan used, and the statement's execution time.
    The statement is planned as the service plans it (phrase pairs, filtered walks)."""
    out = []
    rng = random.Random(7)
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        for name, make in shapes:
            given = make(rng)
            filters = _filters(given)
            parsed = await repository.parse(conn, given["q"])
            assert parsed is not None, given["q"]
            tsquery = parsed[0]
            plan = await service.plan_search(conn, given["q"], tsquery, filters, RANK_WINDOW)
            statement, params = repository.query(
                q=given["q"],
                filters=filters,
                after=None,
                limit=21,
                window=RANK_WINDOW,
                plan=plan,
            )
            async with repository.planner_settings(conn):
                cur = await conn.execute(
                    "explain (analyze, buffers) " + statement,
                    params,  # type: ignore[arg-type]
                    prepare=False,
                )
                text = "\n".join(next(iter(r.values())) for r in await cur.fetchall())
            indexes = sorted(set(re.findall(r"on (\w+_idx|\w+_pkey)", text)))
            took = re.search(r"Execution Time: ([\d.]+) ms", text)
            out.append((name, ", ".join(indexes), float(took.group(1)) if took else float("nan")))
    return out


def _filters(given: dict[str, str]) -> dict[str, Any]:
    return {
        "assigned_team": given.get("team"),
        "status": given.get("status"),
        "severity": None,
        "from": None,
        "to": None,
    }


async def _floor(conn: AsyncConn, rng: random.Random) -> Summary:
    latencies = []
    started = time.perf_counter()
    for _ in range(REQUESTS):
        t0 = time.perf_counter_ns()
        row = await incidents.get_incident(conn, f"INC-B-{1 + rng.randrange(INCIDENTS)}")
        latencies.append(time.perf_counter_ns() - t0)
        assert row is not None
    return summarize(latencies, time.perf_counter() - started)


async def _measure(
    url: str, shapes: list[Shape]
) -> tuple[Summary, list[tuple[str, Summary, str]], Summary]:
    """The floor, each shape through the search service (page of 20), the floor again."""
    rng = random.Random(42)
    rows = []
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        await _floor(conn, rng)  # warm the caches
        progress(f"floor: an incident by id x{REQUESTS}")
        floor = await _floor(conn, rng)
        for name, make in shapes:
            progress(f"{name}: x{REQUESTS}")
            latencies = []
            started = time.perf_counter()
            for given in [make(rng) for _ in range(REQUESTS)]:
                t0 = time.perf_counter_ns()
                await service.search(
                    conn, given["q"], filters=_filters(given), cursor=None, limit=20
                )
                latencies.append(time.perf_counter_ns() - t0)
            rows.append((name, summarize(latencies, time.perf_counter() - started), load_average()))
        progress("floor again, to see drift over the run")
        floor_after = await _floor(conn, rng)
    return floor, rows, floor_after


def main(argv: Sequence[str]) -> int:
    shapes = _shapes()
    given = os.environ.get("BENCH_SEARCH_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if given:
            url = given
            counts = _counts(url)
        else:
            url = stack.enter_context(scratch_database("search_bench"))
            started = time.perf_counter()
            counts = _generate(url)
            progress(f"generated in {time.perf_counter() - started:.0f} s: {counts}")
        plans = asyncio.run(_explain(url, shapes))
        floor, rows, floor_after = asyncio.run(_measure(url, shapes))

    print(
        f"\nSearch over {counts['incidents']:,} incidents, {counts['incident_timeline']:,}"
        f" timeline entries, {counts['alerts']:,} alerts, {counts['postmortems']:,}"
        f" post-mortems; {REQUESTS} searches per row, one at a time, through the service"
        " layer on one connection (no HTTP);"
        f" {RANK_WINDOW} most recent matches ranked per kind; load {load_average()}"
    )
    print("| query shape | p50 ms | p99 ms | p50 x floor | p99 x floor | load after |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| floor: incident by id (before) | {floor.p50_ms:.2f} | {floor.p99_ms:.2f}"
        " | 1.00 | 1.00 | |"
    )
    worst = 0.0
    for name, s, load in rows:
        worst = max(worst, s.p99_ms)
        print(
            f"| {name} | {s.p50_ms:.2f} | {s.p99_ms:.2f} | {s.p50_ms / floor.p50_ms:.1f}"
            f" | {s.p99_ms / floor.p99_ms:.1f} | {load} |"
        )
    print(
        f"| floor: incident by id (after) | {floor_after.p50_ms:.2f}"
        f" | {floor_after.p99_ms:.2f} | {floor_after.p50_ms / floor.p50_ms:.2f}"
        f" | {floor_after.p99_ms / floor.p99_ms:.2f} | |"
    )
    print("\nEXPLAIN ANALYZE, one query per shape (indexes used, execution time)")
    print("| query shape | indexes | ms |")
    print("| --- | --- | ---: |")
    for name, indexes, ms in plans:
        print(f"| {name} | {indexes} | {ms:.1f} |")
    print(f"\nworst p99: {worst:.1f} ms (target: under 50 ms)")
    return 0
