"""`db.listen_loop`, the one LISTEN loop of the event relay, the inbox and the
acknowledgement watcher: woken by a notification, again at once after a full round, and
connected again after its connection is lost."""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg
import pytest

from incident_service.db import listen_loop

CHANNEL = "listen_loop_test"


async def _until(predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _notify(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"notify {CHANNEL}")


async def test_a_full_round_goes_again_and_a_notification_wakes_it(database_url: str) -> None:
    calls: list[float] = []
    stop = asyncio.Event()

    async def each_round() -> bool:
        calls.append(time.monotonic())
        return len(calls) <= 3  # three full batches, then nothing more

    task = asyncio.create_task(
        listen_loop(
            database_url, CHANNEL, poll_s=60.0, stop=stop, each_round=each_round, name="test"
        )
    )
    try:
        await _until(lambda: len(calls) == 4)
        await asyncio.sleep(0.3)
        assert len(calls) == 4  # waiting now: the poll interval is a minute
        await _notify(database_url)
        await _until(lambda: len(calls) == 5, within=5.0)
        stop.set()
        await _notify(database_url)
        await asyncio.wait_for(task, timeout=5.0)
    finally:
        stop.set()
        task.cancel()


async def test_a_lost_connection_is_logged_and_connected_again(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[float] = []
    stop = asyncio.Event()

    async def each_round() -> bool:
        calls.append(time.monotonic())
        return False

    caplog.set_level(logging.WARNING, logger="incident_service.db")
    task = asyncio.create_task(
        listen_loop(
            database_url, CHANNEL, poll_s=60.0, stop=stop, each_round=each_round, name="test"
        )
    )
    try:
        await _until(lambda: len(calls) == 1)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            cur = await conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where pid <> pg_backend_pid() and query = %s",
                (f'listen "{CHANNEL}"',),
            )
            assert len(await cur.fetchall()) == 1
        await _until(lambda: len(calls) == 2)  # a new connection, a new round
        assert "test: database unavailable; retrying" in caplog.messages
        await _notify(database_url)  # and it listens again
        await _until(lambda: len(calls) == 3, within=5.0)
        stop.set()
        await _notify(database_url)
        await asyncio.wait_for(task, timeout=5.0)
    finally:
        stop.set()
        task.cancel()


async def test_an_unreachable_database_is_retried_until_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()

    async def each_round() -> bool:
        raise AssertionError("no round without a connection")

    caplog.set_level(logging.WARNING, logger="incident_service.db")
    # Port 1: nothing listens there, so every connection is refused at once.
    url = "postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2"
    task = asyncio.create_task(
        listen_loop(url, CHANNEL, poll_s=60.0, stop=stop, each_round=each_round, name="test")
    )
    await _until(lambda: caplog.messages.count("test: database unavailable; retrying") >= 2)
    stop.set()
    await asyncio.wait_for(task, timeout=3.0)
