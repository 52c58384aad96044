"""An action target that hangs: the worker times out and moves on, nothing exhausts, and
the API is unaffected.

A real worker runs automated responses against an HTTP stand-in whose automation endpoint
never answers in time. While those calls hang, the API keeps creating and reading
incidents; afterwards every hanging action has ended `failed` (its attempts timed out,
recorded on the timeline) and the worker's threads and database connections stayed bounded.
"""

from __future__ import annotations

import contextlib
import os
import time

import httpx
import numpy as np
import psycopg
import pytest

from incident_service.db import with_database
from incident_service.migrate import apply_migrations
from testkit.databases import create_database, drop_database, make_api_key
from testkit.server import served
from testkit.targets import SECRET, Behaviour, StandIn, targets_env
from testkit.worker import QUICK_WORKER, Worker, worker_env
from tests.conftest import new_incident

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

HANGING_INCIDENTS = int(os.environ.get("CHAOS_HANGING_INCIDENTS", "20"))
PROBES = 40


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("Threads:")).split()[1])


def _latencies(http: httpx.Client, team: str) -> list[float]:
    out = []
    for _ in range(PROBES):
        started = time.perf_counter()
        created = http.post(
            "/api/v1/incidents", json=new_incident(team, severity="SEV4_LOW", title="probe")
        )
        assert created.status_code == 201, created.text
        assert http.get(f"/api/v1/incidents/{created.json()['incident_id']}").status_code == 200
        out.append((time.perf_counter() - started) * 1000)
    return out


def test_hanging_action_target_does_not_exhaust_or_block(server_url, tmp_path, capsys) -> None:
    name = create_database(server_url, "incident_chaos_hang")
    url = with_database(server_url, name)
    standin = StandIn(secret=SECRET).start()
    standin.behave("/automation", Behaviour(hang_s=30))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(drop_database, server_url, name)
        cleanup.callback(standin.stop)
        apply_migrations(url)
        key = make_api_key(url, name="chaos", scopes=["admin"], rate_limit=1_000_000)
        worker = (
            Worker(worker_env(url, QUICK_WORKER, targets_env(standin)), tmp_path / "worker.log")
            .start()
            .wait_ready()
        )
        cleanup.callback(worker.stop)
        base, _proc = cleanup.enter_context(served(url))
        http = cleanup.enter_context(
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        )

        before = _latencies(http, "chaos-probe")
        hanging = [
            http.post(
                "/api/v1/incidents",
                json=new_incident("chaos-hang", severity="SEV2_HIGH", title="Checkout latency"),
            ).json()
            for _ in range(HANGING_INCIDENTS)
        ]
        # Wait until the worker is actually stuck on the hanging target.
        deadline = time.monotonic() + 60
        while not standin.by_path("/automation") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert standin.by_path("/automation"), "the worker never called the hanging target"
        during = _latencies(http, "chaos-probe")
        threads_during = _threads(worker.proc.pid)  # type: ignore[union-attr]
        with psycopg.connect(url) as conn:
            (connections,) = conn.execute(
                "select count(*) from pg_stat_activity where datname = current_database()"
            ).fetchone()  # type: ignore[misc]
        assert http.get("/ready").status_code == 200

        # Every hanging action gives up (timeouts, retries, deadline) and is marked failed.
        ids = [i["incident_id"] for i in hanging]
        deadline = time.monotonic() + 240
        while True:
            with psycopg.connect(url) as conn:
                rows = conn.execute(
                    "select execution_status, count(*) from automated_responses"
                    " where incident_id = any(%s) and action_type = 'scale_up_service'"
                    " group by execution_status",
                    (ids,),
                ).fetchall()
            states = dict(rows)
            if states.get("failed", 0) == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(1)
        with psycopg.connect(url) as conn:
            (noted,) = conn.execute(
                "select count(distinct incident_id) from incident_timeline"
                " where incident_id = any(%s) and kind = 'response_status_changed'"
                " and details->>'action_type' = 'scale_up_service'"
                " and details->>'execution_status' = 'failed'",
                (ids,),
            ).fetchone()  # type: ignore[misc]

        with capsys.disabled():
            print(
                f"\n[chaos: hanging target] {len(ids)} incidents whose scale_up_service hangs;"
                f" API create+read p50 before {np.percentile(before, 50):.1f} ms / during"
                f" {np.percentile(during, 50):.1f} ms (p99 {np.percentile(before, 99):.1f} /"
                f" {np.percentile(during, 99):.1f}); worker threads {threads_during};"
                f" database connections {connections}; hanging calls made"
                f" {len(standin.by_path('/automation'))}; actions failed"
                f" {states.get('failed', 0)}/{len(ids)}"
            )
        assert states.get("failed", 0) == len(ids), states
        assert noted == len(ids), "each failure is on its incident's timeline"
        assert threads_during < 100, "no thread per hanging call"
        assert connections < 60, "connections stay within the pools"
