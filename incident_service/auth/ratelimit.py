"""Per-key rate limits, shared by every API replica.

Each limiter answers one question per request: how long must this key wait before its next
request is allowed (0: allowed now, and counted). The rule is GCRA, the token bucket kept
as one number per key, its "theoretical arrival time" (TAT): each request moves it one
`interval = 1/rate` later, and a request is refused when that would put it more than
`window = burst * interval` ahead of now. `burst` requests may arrive at once, then `rate`
a second; the same behaviour as a bucket of `burst` tokens refilled at `rate`.

- `PostgresLimiter` (the default): one row per key in the unlogged `api_key_rate_limits`,
  read and moved by one atomic upsert per request, so N replicas allow the rate once.
- `RedisLimiter` (when `REDIS_URL` is set): the same rule in one Lua script. If Redis cannot
  be reached, the process falls back to its own buckets for a few seconds and logs it: the
  API keeps serving (an incident tool must not fail because its limiter's store did),
  limited per process meanwhile.
- `ProcessLimiter`: per process only (N replicas allow N times the rate); for one replica.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol
from uuid import UUID

from incident_service.config import Settings
from incident_service.db import autocommit

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        """0 when a request of `key_id` is allowed now (and counted), else the seconds
        until one is. `pool`: the API's connection pool (used by the PostgreSQL store)."""
        ...

    async def aclose(self) -> None: ...


class ProcessLimiter:
    """GCRA in this process's memory."""

    def __init__(self) -> None:
        self._tat: dict[UUID, float] = {}

    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        return self.take(key_id, rate, burst)

    def take(self, key_id: UUID, rate: float, burst: float) -> float:
        now = time.monotonic()
        interval = 1.0 / rate
        tat = max(self._tat.get(key_id, now), now) + interval
        wait = tat - now - burst * interval
        if wait > 0:
            return wait
        if len(self._tat) > 100_000:  # keys seen long ago are full buckets anyway
            self._tat = {k: t for k, t in self._tat.items() if t > now}
        self._tat[key_id] = tat
        return 0.0

    async def aclose(self) -> None:
        return None


# One statement, atomic under concurrency: the upsert locks the key's row, so requests of
# one key through any replica are counted one after another. `allowed` is stored so that
# RETURNING can tell an allowed request from a refused one (it sees only the new row).
_PG_TAKE = (
    "insert into api_key_rate_limits as b (key_id, tat, allowed)"
    " values (%(key_id)s, extract(epoch from now()) + %(interval)s, true)"
    " on conflict (key_id) do update set"
    " allowed = greatest(b.tat, extract(epoch from now())) + %(interval)s"
    " <= extract(epoch from now()) + %(window)s,"
    " tat = case when greatest(b.tat, extract(epoch from now())) + %(interval)s"
    " <= extract(epoch from now()) + %(window)s"
    " then greatest(b.tat, extract(epoch from now())) + %(interval)s else b.tat end"
    " returning allowed, tat, extract(epoch from now()) as now"
)


class PostgresLimiter:
    """GCRA in PostgreSQL: one autocommit upsert per request."""

    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        interval = 1.0 / rate
        window = burst * interval
        async with autocommit(pool) as conn:
            cur = await conn.execute(
                _PG_TAKE, {"key_id": key_id, "interval": interval, "window": window}
            )
            row = await cur.fetchone()
        assert row is not None
        if row["allowed"]:
            return 0.0
        now = float(row["now"])
        return max(float(row["tat"]), now) + interval - now - window

    async def aclose(self) -> None:
        return None


# Redis's own clock (TIME), so replicas with skewed clocks agree. Lua numbers become
# integers in a Redis reply, hence the waits are returned as strings.
_REDIS_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = tat + interval
local wait = tat - now - window
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
return '0'
"""


class RedisLimiter:
    """GCRA in Redis: one script call per request."""

    # After a Redis failure the process limits on its own for this long before retrying,
    # so an outage costs one failed call every few seconds, not one per request.
    FALLBACK_S = 5.0

    def __init__(self, url: str, prefix: str = "incident-service:rate:") -> None:
        import redis.asyncio as redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._client.register_script(_REDIS_GCRA)
        self._prefix = prefix
        self._fallback = ProcessLimiter()
        self._fallback_until = 0.0

    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        if time.monotonic() < self._fallback_until:
            return self._fallback.take(key_id, rate, burst)
        interval = 1.0 / rate
        try:
            answer = await self._script(
                keys=[f"{self._prefix}{key_id}"], args=[repr(interval), repr(burst * interval)]
            )
        except self._errors as exc:
            log.warning(
                "rate limits: Redis unreachable (%s); limiting per process for %.0f s",
                type(exc).__name__,
                self.FALLBACK_S,
            )
            self._fallback_until = time.monotonic() + self.FALLBACK_S
            return self._fallback.take(key_id, rate, burst)
        return float(answer)

    async def aclose(self) -> None:
        await self._client.aclose()


def make_limiter(settings: Settings) -> RateLimiter | None:
    """The store `settings` choose; None when rate limiting is off."""
    if settings.rate_limit_store == "off":
        return None
    if settings.rate_limit_store == "process":
        return ProcessLimiter()
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else ""
    if redis_url:  # an empty REDIS_URL (as compose files leave it) means none
        return RedisLimiter(redis_url)
    return PostgresLimiter()
