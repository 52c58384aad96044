"""An incident's console page over HTTP at 100,000 incidents, on incidents that have been
worked: each measured incident gets, through the API (so every row is what the services
write), a status walk, a severity change, 40 notes, 8 stakeholder updates, two roles held
by members of its team and 3 follow-ups, beside the generated 10 timeline entries, 2 alerts
and its post-mortem. One request at a time through a real `incident-service serve`.

Rows: the page of a worked incident, the same with the timeline filtered to notes, the
page of an incident as generated, and the similar incidents fragment the page loads
afterwards. Floor, in the same run on the same server: the API's GET of one incident.

The data is the search benchmark's (`benchmarks.search._generate`); with
`BENCH_CONSOLE_DATABASE_URL` naming a database generated that way, the run uses it (the
record added to the measured incidents is then added again). Goal: p95 under 100 ms.
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
from benchmarks.search import INCIDENTS, TEAMS, _generate
from incident_service.migrate import apply_migrations
from testkit.server import served

REQUESTS = 200
WARMUP = 20
WORKED = 20
NOTES = 40
UPDATES = 8
FOLLOW_UPS = 3
# The generator's statuses cycle every 4 incidents through these 7; the first 5 are active.
_STATUSES = ("OPEN", "ACKNOWLEDGED", "INVESTIGATING", "IDENTIFIED", "MONITORING")


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


def _ok(answer: httpx.Response) -> httpx.Response:
    assert answer.status_code < 300, (answer.request.url, answer.status_code, answer.text[:300])
    return answer


def _active_ids(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` distinct generated incidents that are still active, with their teams."""
    chosen: dict[str, str] = {}
    while len(chosen) < count:
        n = 1 + rng.randrange(INCIDENTS)
        if (n // 4) % 7 < len(_STATUSES):
            chosen[f"INC-B-{n}"] = f"team-{n % TEAMS:02d}"
    return list(chosen.items())


def _members(http: httpx.Client, team: str) -> list[str]:
    """Two people of `team` (the team made when the generator did not)."""
    if http.get(f"/api/v1/teams/{team}").status_code == 404:
        _ok(http.post("/api/v1/teams", json={"slug": team, "name": team}))
    people = []
    for role in ("commander", "scribe"):
        name = f"{role}-{team}-{random.getrandbits(32):08x}"
        body = {"name": name, "email": f"{name}@example.com", "teams": [team]}
        people.append(_ok(http.post("/api/v1/users", json=body)).json()["id"])
    return people


def _work(http: httpx.Client, incident_id: str, team: str) -> None:
    """What a responder team leaves on an incident over a few hours."""
    path = f"/api/v1/incidents/{incident_id}"
    for status in ("INVESTIGATING", "IDENTIFIED"):
        current = _ok(http.get(path)).json()["status"]
        if _STATUSES.index(current) < _STATUSES.index(status):
            _ok(http.put(f"{path}/status", json={"status": status, "note": f"now {status}"}))
    _ok(http.patch(path, json={"severity": "SEV2_HIGH"}))
    for role, person in zip(("commander", "scribe"), _members(http, team), strict=True):
        _ok(http.put(f"{path}/roles/{role}", json={"user_id": person}))
    for i in range(NOTES):
        body = f"Checked **dashboard {i}**: error rate {i % 7}%, see `runbook-{i % 5}`"
        _ok(http.post(f"{path}/notes", json={"body": body}))
    for i in range(UPDATES):
        _ok(http.post(f"{path}/updates", json={"message": f"Update {i}: still mitigating"}))
    for i in range(FOLLOW_UPS):
        _ok(http.post(f"{path}/follow-ups", json={"title": f"Alert on saturation {i}"}))


def main(argv: Sequence[str]) -> int:
    given = os.environ.get("BENCH_CONSOLE_DATABASE_URL")
    rng = random.Random(11)
    with contextlib.ExitStack() as stack:
        if given:
            url = given
            apply_migrations(url)
        else:
            url = stack.enter_context(scratch_database("console_incident_bench"))
            progress("generating 100,000 incidents (the search benchmark's data)")
            _generate(url)
        key = admin_key(url)
        base, _proc = stack.enter_context(served(url))
        http = stack.enter_context(
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        )
        worked = _active_ids(rng, WORKED)
        progress(f"working {WORKED} incidents through the API")
        for incident_id, team in worked:
            _work(http, incident_id, team)
        entries = len(_ok(http.get(f"/api/v1/incidents/{worked[0][0]}/timeline")).json())
        ids = [worked[i % WORKED][0] for i in range(REQUESTS)]
        plain = [f"INC-B-{1 + rng.randrange(INCIDENTS)}" for _ in range(REQUESTS)]
        shapes = {
            "floor: GET /api/v1/incidents/{id}": [f"/api/v1/incidents/{i}" for i in ids],
            "incident page, worked incident": [f"/ui/incidents/{i}" for i in ids],
            "incident page, worked, timeline kind=note": [
                f"/ui/incidents/{i}?kind=note" for i in ids
            ],
            "incident page, as generated": [f"/ui/incidents/{i}" for i in plain],
            "similar incidents fragment (loaded after)": [
                f"/ui/incidents/{i}/similar" for i in ids
            ],
        }
        rows = []
        for name, paths in shapes.items():
            progress(name)
            rows.append((name, _measure(http, paths), load_average()))

    floor = rows[0][1]
    print(
        f"\nAn incident's console page over HTTP, {INCIDENTS:,} incidents; {WORKED} worked"
        f" incidents ({entries} timeline entries, {NOTES} notes, {UPDATES} updates, 2 roles,"
        f" {FOLLOW_UPS} follow-ups each); {REQUESTS} requests per row one at a time after"
        f" {WARMUP} warm-up requests; load {load_average()}"
    )
    print("| request | p50 ms | p95 ms | p99 ms | p95 x floor | load after |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    worst = 0.0
    for name, (p50, p95, p99), load in rows:
        if name.startswith("incident page"):
            worst = max(worst, p95)
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {p95 / floor[1]:.1f} | {load} |")
    print(f"\nworst incident page p95: {worst:.1f} ms (goal: under 100 ms)")
    return 0
