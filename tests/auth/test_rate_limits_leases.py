"""Leased tokens (auth/ratelimit.py): replicas take tokens from the shared bucket a lease at
a time and spend them locally. The documented bound: all replicas together admit at most
what the one bucket admits plus the leases outstanding (`lease_size` per replica), and
unspent tokens go back to the bucket. Against the real PostgreSQL and the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from incident_service.auth.ratelimit import (
    Grant,
    PostgresLimiter,
    RedisLimiter,
    lease_size,
)
from incident_service.config import Settings
from incident_service.db import make_pool

REDIS_URL = "redis://127.0.0.1:6379/0"
# A slow key (1 request/s, so that refills during a test stay a token or two) with leases
# of five tokens: `lease_s` is five seconds of its rate, a quarter of its burst of 20.
RATE, BURST, LEASE_S = 1.0, 20.0, 5.0
LEASE = lease_size(RATE, BURST, LEASE_S)


class Counting:
    """Records each lease call's (want, give back) on its way to the real store."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[int, int]] = []

    async def lease(
        self, pool: Any, key_id: UUID, want: int, back: int, interval: float, window: float
    ) -> Grant:
        self.calls.append((want, back))
        return await super().lease(pool, key_id, want, back, interval, window)  # type: ignore[misc,no-any-return]


class CountingPostgres(Counting, PostgresLimiter):
    pass


class CountingRedis(Counting, RedisLimiter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(REDIS_URL, **kwargs)


Store = CountingPostgres | CountingRedis


@pytest.fixture(params=["postgresql", "redis"])
def store(request: pytest.FixtureRequest) -> type[Store]:
    return CountingPostgres if request.param == "postgresql" else CountingRedis


@pytest.fixture
async def pool(settings: Settings, database_url: str) -> AsyncIterator[Any]:
    pool = make_pool(database_url, settings)
    await pool.open()
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def replicas(store: type[Store], pool: Any, **kwargs: Any) -> AsyncIterator[list[Store]]:
    """Two replicas' limiters on the same shared bucket."""
    limiters = [store(**kwargs), store(**kwargs)]
    try:
        yield limiters
    finally:
        for limiter in limiters:
            await limiter.aclose(pool)


async def admitted(limiters: list[Store], pool: Any, key: UUID, requests: int) -> list[int]:
    """Requests alternating between the limiters; how many each admitted."""
    counts = [0] * len(limiters)
    for i in range(requests):
        n = i % len(limiters)
        if await limiters[n].wait(pool, key, RATE, BURST) == 0:
            counts[n] += 1
    return counts


def test_the_lease_is_small_against_the_limit() -> None:
    assert LEASE == 5
    assert lease_size(1, 10) == 1  # a slow key leases one token at a time: no slack
    assert lease_size(50, 500) == 5  # the default rate: a tenth of a second of it
    assert lease_size(1e6, 1e7) == 100  # at most 100, however fast the key
    assert lease_size(1000, 8) == 2  # at most a quarter of the burst


async def test_replicas_share_one_bucket_within_their_leases(store: type[Store], pool: Any) -> None:
    async with replicas(store, pool, lease_s=LEASE_S) as limiters:
        started = time.monotonic()
        counts = await admitted(limiters, pool, uuid4(), 3 * int(BURST))
        seconds = time.monotonic() - started
    # Both replicas keep asking, so every leased token is spent: the burst at least; and
    # never more than the bucket (burst + what refilled) plus one lease per replica.
    assert sum(counts) >= BURST
    assert sum(counts) <= BURST + int(seconds * RATE) + 1 + 2 * LEASE, (counts, seconds)
    # Per-process buckets would admit the burst twice.
    assert sum(counts) < 2 * BURST
    assert min(counts) >= LEASE


async def test_a_busy_key_calls_the_store_once_per_lease(store: type[Store], pool: Any) -> None:
    limiter = store()
    try:
        key = uuid4()
        rate, burst = 1e6, 1e7  # lease_size: 100
        waits = await asyncio.gather(*(limiter.wait(pool, key, rate, burst) for _ in range(50)))
        assert waits == [0.0] * 50
        assert limiter.calls == [(100, 0)]  # 50 concurrent requests, one lease between them
        for _ in range(150):
            assert await limiter.wait(pool, key, rate, burst) == 0.0
        assert len(limiter.calls) == 2
    finally:
        await limiter.aclose(pool)


async def test_unspent_tokens_go_back_at_shutdown(store: type[Store], pool: Any) -> None:
    key = uuid4()
    first = store(lease_s=LEASE_S)
    assert await first.wait(pool, key, RATE, BURST) == 0.0  # leases 5, spends 1
    await first.aclose(pool)  # gives back 4
    assert first.calls == [(LEASE, 0), (0, LEASE - 1)]
    async with replicas(store, pool, lease_s=LEASE_S) as others:
        started = time.monotonic()
        counts = await admitted(others, pool, key, 3 * int(BURST))
        seconds = time.monotonic() - started
    # The burst less the one request spent; without the give-back 4 fewer.
    assert BURST - 1 <= sum(counts) <= BURST - 1 + int(seconds * RATE) + 1 + 2 * LEASE


async def test_a_lapsed_lease_is_not_spent_but_given_back(store: type[Store], pool: Any) -> None:
    key = uuid4()
    limiter = store(lease_s=LEASE_S, lease_ttl_s=0.2)
    try:
        assert await limiter.wait(pool, key, RATE, BURST) == 0.0  # leases 5, spends 1
        await asyncio.sleep(0.3)
        assert await limiter.wait(pool, key, RATE, BURST) == 0.0
        # The 4 lapsed tokens went back with the next lease instead of being spent.
        assert limiter.calls == [(LEASE, 0), (LEASE, LEASE - 1)]
    finally:
        await limiter.aclose(pool)


async def test_a_refusal_waits_for_the_next_token(store: type[Store], pool: Any) -> None:
    key = uuid4()
    async with replicas(store, pool, lease_s=LEASE_S) as (one, two):
        for _ in range(int(BURST)):
            assert await one.wait(pool, key, RATE, BURST) == 0.0
        wait = await two.wait(pool, key, RATE, BURST)
        # The bucket is empty: the next token comes within one interval (1 s at 1/s).
        assert 0 < wait <= 1 / RATE


async def test_concurrent_leases_of_two_replicas_never_overlap(
    store: type[Store], pool: Any
) -> None:
    # Both replicas take leases at the same moments, so their statements race for the row.
    key = uuid4()
    async with replicas(store, pool, lease_s=LEASE_S) as (one, two):
        started = time.monotonic()
        waits = await asyncio.gather(
            *(limiter.wait(pool, key, RATE, BURST) for limiter in [one, two] * int(BURST))
        )
        seconds = time.monotonic() - started
    allowed = waits.count(0.0)
    assert BURST - 2 * LEASE <= allowed <= BURST + int(seconds * RATE) + 1, (allowed, seconds)
