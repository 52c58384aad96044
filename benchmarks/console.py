"""The console's pages rendered over HTTP at 100,000 incidents: the incident list (plain,
filtered, searched) and an incident's page (with its 10 timeline entries), one request at
a time through a real `incident-service serve`. Floor, measured in the same run on the
same server: the API's GET of one incident (`/api/v1/incidents/{id}`).

The data is the search benchmark's (`benchmarks/search.py`: 100,000 incidents over 20
teams, a million timeline entries, 200,000 alerts, 28,568 post-mortems); with
`BENCH_CONSOLE_DATABASE_URL` naming a database generated that way, the run uses it.
Goal: p95 under 100 ms for the list and an incident page.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Sequence

import httpx
import numpy as np

from benchmarks.common import admin_key, load_average, progress, scratch_database
from benchmarks.search import INCIDENTS, _generate
from incident_service.migrate import apply_migrations
from testkit.server import served

REQUESTS = 200
WARMUP = 20


def _percentiles(latencies_ms: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.asarray(latencies_ms), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def _measure(http: httpx.Client, paths: Sequence[str]) -> tuple[float, float, float]:
    for path in paths[:WARMUP]:
        assert http.get(path).status_code == 200, path
    timings = []
    for path in paths:
        started = time.perf_counter()
        answer = http.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    return _percentiles(timings)


def main(argv: Sequence[str]) -> int:
    given = os.environ.get("BENCH_CONSOLE_DATABASE_URL")
    rng = random.Random(7)
    with contextlib.ExitStack() as stack:
        if given:
            url = given
            apply_migrations(url)  # a database generated before the console's migrations
        else:
            url = stack.enter_context(scratch_database("console_bench"))
            progress("generating 100,000 incidents (the search benchmark's data)")
            _generate(url)
        key = admin_key(url)
        base, _proc = stack.enter_context(served(url))
        http = stack.enter_context(
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        )
        ids = [f"INC-B-{1 + rng.randrange(INCIDENTS)}" for _ in range(REQUESTS)]
        teams = [f"team-{rng.randrange(20):02d}" for _ in range(REQUESTS)]
        shapes = {
            "floor: GET /api/v1/incidents/{id}": [f"/api/v1/incidents/{i}" for i in ids],
            "list, newest 50": ["/ui/"] * REQUESTS,
            "list, team + status filter": [f"/ui/?team={t}&status=INVESTIGATING" for t in teams],
            "list, severity filter, page 2": [],
            "list, search a common word": ["/ui/?q=latency"] * REQUESTS,
            "incident page": [f"/ui/incidents/{i}" for i in ids],
            "incident page, similar incidents (loaded after)": [
                f"/ui/incidents/{i}/similar" for i in ids
            ],
        }
        first = http.get("/ui/?severity=SEV2_HIGH").text
        cursor = first.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        shapes["list, severity filter, page 2"] = [cursor] * REQUESTS
        rows = []
        for name, paths in shapes.items():
            progress(name)
            rows.append((name, _measure(http, paths), load_average()))

    floor = rows[0][1]
    print(
        f"\nConsole pages over HTTP, {INCIDENTS:,} incidents, {REQUESTS} requests per row one"
        f" at a time after {WARMUP} warm-up requests; load {load_average()}"
    )
    print("| page | p50 ms | p95 ms | p99 ms | p95 x floor | load after |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    worst = 0.0
    for name, (p50, p95, p99), load in rows:
        if not name.startswith("floor"):
            worst = max(worst, p95)
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {p95 / floor[1]:.1f} | {load} |")
    print(f"\nworst p95: {worst:.1f} ms (goal: under 100 ms)")
    return 0
