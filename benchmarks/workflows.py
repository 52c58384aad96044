"""Automated-response latency: from an incident's commit to its first action starting and
to its last action finishing, at a steady 50 incidents/s and for a burst of 1,000.

Runs a real worker process against a fresh database on DATABASE_URL's server (or the
embedded one) and a real HTTP stand-in for the action targets on 127.0.0.1. "Commit" is
the wall-clock time the creating transaction's COMMIT returned; action start/finish are
the database's `started_at`/`executed_at` (same machine, same clock). The floor is a
COMMIT of a trivial insert measured in the same run. `BENCH_STEADY_S` (default 30: a p99
over 500 incidents is their fifth-worst, too few to be steady) and
`BENCH_BURST` (default 1000) size the run; `BENCH_RATE` (default 50) is the steady rate;
`BENCH_WORKERS` (default 1) worker processes share the queue. Worker CPU per action (from
/proc) is printed too: a busy shared machine inflates latency far more than it does CPU.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _create(
    url: str, policies, team: str, count: int, rate: float | None
) -> dict[str, float]:
    from incident_service.incidents import service
    from incident_service.incidents.schemas import IncidentCreationRequest

    committed: dict[str, float] = {}
    start = time.monotonic()
    # 16 pooled connections, as the API holds them: a new connection per incident made
    # PostgreSQL fork a backend each time, load on the same two cores as the worker.
    async with AsyncConnectionPool(
        url,
        min_size=16,
        max_size=16,
        kwargs={"row_factory": dict_row},
        connection_class=AsyncConnection[dict[str, Any]],
        open=False,
    ) as pool:

        async def one(i: int) -> None:
            if rate is not None:
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            async with pool.connection() as c:
                created = await service.create_incident(
                    c,
                    IncidentCreationRequest(
                        title=f"Bench latency {i}",
                        severity="SEV2_HIGH",
                        affected_services=["api"],
                        assigned_team=team,
                    ),
                    policies=policies,
                )
                await c.commit()
                committed[created.incident.incident_id] = time.time()

        await asyncio.gather(*(one(i) for i in range(count)))
    return committed


def _wait_done(url: str, ids: list[str], within: float = 600) -> None:
    deadline = time.monotonic() + within
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            [(left,)] = conn.execute(
                "select count(*) from automated_responses where incident_id = any(%s)"
                " and execution_status in ('pending', 'in_progress')",
                (ids,),
            ).fetchall()
            if left == 0:
                return
            time.sleep(0.2)
    raise SystemExit("responses did not finish in time")


def _latencies(url: str, committed: dict[str, float]) -> tuple[list[float], list[float], float]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select incident_id, extract(epoch from min(started_at)) as first,"
            " extract(epoch from max(executed_at)) as last from automated_responses"
            " where incident_id = any(%s) group by incident_id",
            (list(committed),),
        ).fetchall()
    first = [float(r[1]) - committed[r[0]] for r in rows]
    last = [float(r[2]) - committed[r[0]] for r in rows]
    span = max(float(r[1]) for r in rows) - min(committed.values())
    return first, last, span


def _actions(url: str, ids: list[str]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        [(n,)] = conn.execute(
            "select count(*) from automated_responses where incident_id = any(%s)", (ids,)
        ).fetchall()
    return int(n)


def _floor(url: str, n: int = 200) -> float:
    times = []
    with psycopg.connect(url) as conn:
        conn.execute("create temporary table floor_probe (x int)")
        for i in range(n):
            t = time.perf_counter()
            conn.execute("insert into floor_probe values (%s)", (i,))
            conn.commit()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _cpu_s(workers: list) -> float:  # type: ignore[type-arg]
    """User + system CPU seconds the worker processes have used (Linux /proc): the cost
    of the work, which a busy shared machine does not inflate the way it does latency."""
    total = 0
    for w in workers:
        with open(f"/proc/{w.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _machine_cpu_s() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, of the PostgreSQL server's processes) so
    far: what the steady run cost beside the worker, on the same two cores."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # less idle and iowait
    postgres = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if "(postgres)" in text:
            rest = text.rsplit(")", 1)[1].split()
            postgres += int(rest[11]) + int(rest[12])
    return busy / tick, postgres / tick


def _row(name: str, first: list[float], last: list[float], floor: float) -> str:
    ms = 1000.0
    return (
        f"{name:<22} {len(first):>5}  first start p50 {statistics.median(first) * ms:7.1f} ms"
        f"  p99 {_pct(first, 0.99) * ms:7.1f} ms   last finish p50"
        f" {statistics.median(last) * ms:7.1f} ms  p99 {_pct(last, 0.99) * ms:7.1f} ms"
        f"   (p99 first / floor: {_pct(first, 0.99) / floor:,.0f}x)"
    )


def main(argv: list[str]) -> int:
    from incident_service.db import with_database
    from incident_service.migrate import apply_migrations
    from incident_service.responses.policies import load_policies
    from incident_service.worker_app import action_types
    from testkit.databases import create_database, drop_database, server_url
    from testkit.targets import StandIn, targets_env
    from testkit.worker import QUICK_WORKER, Worker, worker_env

    steady_s = float(os.environ.get("BENCH_STEADY_S", "30"))
    burst = int(os.environ.get("BENCH_BURST", "1000"))
    rate = float(os.environ.get("BENCH_RATE", "50"))
    server = server_url()
    name = create_database(server, "incident_bench_wf")
    url = with_database(server, name)
    standin = StandIn().start()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-worker-{os.getpid()}.log"
    workers: list[Worker] = []
    try:
        apply_migrations(url)
        policies = load_policies(None, action_types())
        count = int(os.environ.get("BENCH_WORKERS", "1"))
        print(f"starting {count} worker(s) (log: {log}) ...", flush=True)
        env = worker_env(
            url,
            QUICK_WORKER,
            targets_env(standin),
            LOG_LEVEL="WARNING",
            # The production defaults, not the tests' small pools and quick death.
            WORKER_DB_POOL_MAX_SIZE=os.environ.get("WORKER_DB_POOL_MAX_SIZE", "24"),
            WORKFLOW_SYS_DB_POOL_SIZE=os.environ.get("WORKFLOW_SYS_DB_POOL_SIZE", "20"),
            WORKER_HEARTBEAT_S="2",
            WORKER_DEAD_AFTER_S="10",
        )
        workers = [Worker(env, log).start() for _ in range(count)]
        for worker in workers:
            worker.wait_ready()
        floor = _floor(url)
        print(f"floor: COMMIT of a one-row insert, median {floor * 1000:.2f} ms", flush=True)
        # No escalation policy for these teams: the figures are the responses' own.
        print(f"steady: {rate:g} incidents/s for {steady_s:.0f} s ...", flush=True)
        cpu0 = _cpu_s(workers)
        machine0, postgres0 = _machine_cpu_s()
        steady = asyncio.run(_create(url, policies, "bench-steady", int(rate * steady_s), rate))
        _wait_done(url, list(steady))
        s_first, s_last, _ = _latencies(url, steady)
        cpu1 = _cpu_s(workers)
        machine1, postgres1 = _machine_cpu_s()
        print(f"burst: {burst} incidents at once ...", flush=True)
        bursty = asyncio.run(_create(url, policies, "bench-burst", burst, None))
        _wait_done(url, list(bursty))
        b_first, b_last, span = _latencies(url, bursty)
        cpu2 = _cpu_s(workers)
        print()
        print(_row(f"steady {rate:g}/s", s_first, s_last, floor))
        print(_row(f"burst {burst}", b_first, b_last, floor))
        actions = _actions(url, [*steady, *bursty])
        print(
            f"worker CPU: {(cpu2 - cpu0) * 1000 / actions:.1f} ms per action"
            f" ({actions} actions; steady {(cpu1 - cpu0) / len(steady) * 1000:.1f} ms,"
            f" burst {(cpu2 - cpu1) / len(bursty) * 1000:.1f} ms per incident)"
        )
        per = 1000 / len(steady)
        print(
            f"steady run, CPU per incident: whole machine {(machine1 - machine0) * per:.1f} ms,"
            f" PostgreSQL {(postgres1 - postgres0) * per:.1f} ms, worker(s)"
            f" {(cpu1 - cpu0) * per:.1f} ms (the rest: this process's creates and stand-in,"
            f" and anything else running); {os.cpu_count()} cores"
        )
        print(
            f"burst: every incident's first action started within {span:.2f} s of the"
            " first commit (goal 10 s)"
        )
        checks = [
            (f"steady {rate:g}/s first start p99 < 250 ms", _pct(s_first, 0.99) < 0.25),
            (f"burst of {burst} all started within 10 s", span < 10),
        ]
        print("Goals: " + ", ".join(f"{n}: {'met' if ok else 'NOT met'}" for n, ok in checks))
        return 0
    finally:
        for worker in workers:
            worker.stop()
        standin.stop()
        drop_database(server, name)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
