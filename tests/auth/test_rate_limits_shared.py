"""Rate limits hold across replicas: two app instances on one database (and one Redis)
sharing a key allow its rate once, not twice. The per-process store, for contrast, allows
it once per instance."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.databases import make_api_key

REDIS_URL = SecretStr("redis://127.0.0.1:6379/0")
BURST = 10  # a key limited to 1 request/s, with the default 10 s of burst


@contextlib.asynccontextmanager
async def replicas(settings: Settings, **update: object) -> AsyncIterator[list[AsyncTestClient]]:  # type: ignore[type-arg]
    replica_settings = settings.model_copy(update=update)
    async with (
        AsyncTestClient(app=create_app(replica_settings)) as one,
        AsyncTestClient(app=create_app(replica_settings)) as two,
    ):
        yield [one, two]


async def allowed_of(clients: list[AsyncTestClient], key: str, requests: int) -> tuple[int, float]:  # type: ignore[type-arg]
    """Requests alternate between the replicas; how many were allowed, and in what time."""
    headers = {"Authorization": f"Bearer {key}"}
    codes = []
    started = time.monotonic()
    for i in range(requests):
        response = await clients[i % 2].get(
            "/api/v1/incidents", params={"limit": 1}, headers=headers
        )
        assert response.status_code in (200, 429), response.text
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
        codes.append(response.status_code)
    return codes.count(200), time.monotonic() - started


def limited_key(database_url: str, name: str) -> str:
    return make_api_key(database_url, name=name, scopes=["incidents:read"], rate_limit=1)


async def assert_shared(clients: list[AsyncTestClient], key: str) -> None:  # type: ignore[type-arg]
    allowed, seconds = await allowed_of(clients, key, 3 * BURST)
    # The burst once, plus what refilled at 1/s while the requests ran.
    assert BURST <= allowed <= BURST + int(seconds) + 1, (allowed, seconds)


async def test_postgresql_shares_the_buckets(settings: Settings, database_url: str) -> None:
    async with replicas(settings) as clients:
        await assert_shared(clients, limited_key(database_url, "pg-shared"))


async def test_redis_shares_the_buckets(settings: Settings, database_url: str) -> None:
    async with replicas(settings, redis_url=REDIS_URL) as clients:
        await assert_shared(clients, limited_key(database_url, "redis-shared"))


async def test_per_process_buckets_allow_the_rate_once_per_replica(
    settings: Settings, database_url: str
) -> None:
    async with replicas(settings, rate_limit_store="process") as clients:
        allowed, _ = await allowed_of(clients, limited_key(database_url, "local"), 3 * BURST)
    assert allowed >= 2 * BURST


async def test_redis_down_falls_back_to_per_process_limits(
    settings: Settings, database_url: str
) -> None:
    # Nothing listens on port 1: every call fails at once, and the API keeps serving.
    async with replicas(settings, redis_url=SecretStr("redis://127.0.0.1:1/0")) as clients:
        allowed, _ = await allowed_of(clients[:1] * 2, limited_key(database_url, "fallback"), 15)
    assert BURST <= allowed <= BURST + 2


async def test_the_wait_is_the_time_to_the_next_token(
    settings: Settings, database_url: str
) -> None:
    for update in ({}, {"redis_url": REDIS_URL}):
        key = make_api_key(database_url, name="slow", scopes=["incidents:read"], rate_limit=1)
        async with replicas(settings, rate_limit_burst_s=1.0, **update) as clients:
            headers = {"Authorization": f"Bearer {key}"}
            assert (await clients[0].get("/api/v1/incidents", headers=headers)).status_code == 200
            refused = await clients[1].get("/api/v1/incidents", headers=headers)
            assert refused.status_code == 429, update
            assert refused.headers["retry-after"] == "1"
