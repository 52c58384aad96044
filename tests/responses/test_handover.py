"""Graceful hand-over: a worker stopped with SIGTERM gives its workflows to the live worker.

Two real worker processes share the queue. While one of them holds workflows asleep in
their backoff and escalation timers, it gets SIGTERM: it takes no more work, gives them
its grace period (1 s here, too short for most timers), then puts the rest back on the
queue and exits. The other worker finishes them. WORKER_DEAD_AFTER_S is 120 s, so the
dead-worker recovery cannot be what moved them within this test's bounded wait. Every
workflow completes exactly once: each response succeeded, each DBOS workflow SUCCESS,
each expected effect reached the stand-in (counted by idempotency key, repeats are
dropped there), escalation levels neither skipped nor repeated.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import psycopg

from incident_service.db import with_database
from incident_service.migrate import apply_migrations
from testkit.databases import create_database, drop_database
from testkit.targets import Behaviour, StandIn, targets_env
from testkit.worker import QUICK_WORKER, Worker, query, wait_for, worker_env
from tests.responses.test_crash import _create

INCIDENTS = 8
LEVELS = 2
TEAM = "handover-team"


def _setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into escalation_policies (team, name, levels, repeat, updated_by)"
            " values (%s, 'handover', %s::jsonb, 0, 'test')",
            (
                TEAM,
                '[{"delay_minutes": 0.05, "targets": [{"type": "person", "id": "ann"}]},'
                ' {"delay_minutes": 0.05, "targets": [{"type": "person", "id": "bob"}]}]',
            ),
        )


def _executor(url: str, worker: Worker) -> str:
    assert worker.proc is not None
    [(executor_id,)] = query(
        url, "select executor_id from workflow_workers where pid = %s", (worker.proc.pid,)
    )
    return str(executor_id)


def _pending_of(conn: psycopg.Connection[tuple[object, ...]], executor_id: str) -> set[str]:
    rows = conn.execute(
        "select workflow_uuid from dbos.workflow_status where executor_id = %s"
        " and status = 'PENDING' and workflow_uuid ~ '^(responses|escalation)-'",
        (executor_id,),
    )
    return {str(r[0]) for r in rows}


async def test_sigterm_hands_workflows_to_the_live_worker(server_url: str, tmp_path: Path) -> None:
    name = create_database(server_url, "incident_handover")
    url = with_database(server_url, name)
    standin = StandIn().start()
    # Every automation call fails once: each action sleeps 1 s in backoff before succeeding.
    standin.behave("/automation", Behaviour(fail_first=1))
    workers: list[Worker] = []
    try:
        apply_migrations(url)
        _setup(url)
        env = worker_env(
            url,
            QUICK_WORKER,
            targets_env(standin),
            WORKER_DEAD_AFTER_S="120",
            WORKER_SHUTDOWN_GRACE_S="1",
            # Two workers beside the session's own on a shared server of 100 connections.
            WORKER_DB_POOL_MAX_SIZE="4",
            WORKFLOW_SYS_DB_POOL_SIZE="4",
        )
        began = time.monotonic()
        workers = [Worker(env, tmp_path / f"worker-{i}.log").start() for i in (1, 2)]
        for w in workers:
            w.wait_ready()
        ready_s = time.monotonic() - began
        ids = await _create(url, TEAM, INCIDENTS)
        # Stop whichever worker holds more workflows, once some are asleep in a timer
        # (level 1 notified: the escalation sleeps 3 s; a failed attempt: a 1 s backoff).
        executors = [_executor(url, w) for w in workers]

        # One connection for the polling below (a new one per poll, 60 a second, could
        # find the shared server's connection slots taken by the two workers' pools).
        with psycopg.connect(url, autocommit=True) as poll:

            def holder() -> list[int] | None:
                held = [len(_pending_of(poll, e)) for e in executors]
                [(asleep,)] = poll.execute("select count(*) from escalation_notifications")
                # A list, not the bare index: wait_for polls until truthy, and 0 is not.
                return [max((0, 1), key=lambda i: held[i])] if max(held) >= 2 and asleep else None

            found = await wait_for(holder, within=60, interval=0.05)
            leaving = found[0] if found else None
            assert leaving is not None, "no worker held sleeping workflows"
            handed = _pending_of(poll, executors[leaving])
        going, staying = workers[leaving], workers[1 - leaving]
        assert going.proc is not None
        stopped_at = time.monotonic()
        going.stop()  # SIGTERM
        stop_s = time.monotonic() - stopped_at
        assert going.proc.returncode == 0, going.log.read_text()[-3000:]
        log = going.log.read_text()
        assert "handed over" in log, log[-3000:]

        def done() -> bool:
            [(left,)] = query(
                url,
                "select count(*) from dbos.workflow_status where status <> 'SUCCESS'"
                " and workflow_uuid ~ '^(responses|escalation)-'",
            )
            return left == 0

        finished = await wait_for(done, within=30, interval=0.1)
        finish_s = time.monotonic() - stopped_at
        statuses = dict(
            query(
                url,
                "select execution_status, count(*) from automated_responses"
                " group by execution_status",
            )
        )
        owners = dict(
            query(
                url,
                "select workflow_uuid, executor_id from dbos.workflow_status"
                " where workflow_uuid = any(%s)",
                (list(handed),),
            )
        )
        levels = query(
            url,
            "select incident_id, array_agg(level order by level) from escalation_notifications"
            " group by incident_id",
        )
        keys = standin.effects()
        expected = {f"{i}-R{p}" for i in ids for p in (2, 3, 4)} | {
            str(k) for (k,) in query(url, "select idempotency_key from escalation_notifications")
        }
        lost, unexpected = expected - set(keys), set(keys) - expected
        [handed_over] = re.findall(r"handed over (\d+) workflows", log)
        repeats = sum(c - 1 for c in keys.values())
        print(
            f"\nhand-over: workers ready in {ready_s:.1f} s; {len(handed)} workflows held by"
            f" the stopped worker, its stop took {stop_s:.1f} s, all {2 * INCIDENTS}"
            f" workflows done {finish_s:.1f} s after SIGTERM; effects"
            f" {len(set(keys) & expected)}/{len(expected)}, lost {len(lost)}, unexpected"
            f" {len(unexpected)}, repeats dropped by key {repeats}; handed over {handed_over}"
        )
        assert finished, "every workflow completed"
        assert statuses == {"succeeded": 4 * INCIDENTS}, statuses
        # Some may finish within the grace period on the leaving worker (and it may have
        # taken more after `handed` was read); the ones it handed over the other finished.
        taken = [w for w in handed if owners[w] == executors[1 - leaving]]
        assert int(handed_over) >= 1 and taken, (handed_over, owners)
        assert staying.proc is not None and staying.proc.poll() is None
        assert len(levels) == INCIDENTS
        assert all(list(r[1]) == list(range(1, LEVELS + 1)) for r in levels), levels  # type: ignore[call-overload]
        assert lost == set() and unexpected == set()
    finally:
        for w in workers:
            w.stop()
        standin.stop()
        await asyncio.to_thread(drop_database, server_url, name)
