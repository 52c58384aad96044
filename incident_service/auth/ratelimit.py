"""Per-key rate limits, shared by every API replica.

Each limiter answers one question per request: how long must this key wait before its next
request is allowed (0: allowed now, and counted). The rule is GCRA, the token bucket kept
as one number per key, its "theoretical arrival time" (TAT): each request moves it one
`interval = 1/rate` later, and a request is refused when that would put it more than
`window = burst * interval` ahead of now. `burst` requests may arrive at once, then `rate`
a second; the same behaviour as a bucket of `burst` tokens refilled at `rate`.

- `PostgresLimiter` (the default): one row per key in the unlogged `api_key_rate_limits`.
- `RedisLimiter` (when `REDIS_URL` is set): the same rule in one Lua script. If Redis cannot
  be reached, the process falls back to its own buckets for a few seconds and logs it: the
  API keeps serving (an incident tool must not fail because its limiter's store did),
  limited per process meanwhile.
- `ProcessLimiter`: per process only (N replicas allow N times the rate); for one replica.

**Leases.** Both shared stores hand tokens out in leases (`Leases`): a replica takes up to
`lease_size(rate, burst)` tokens from the shared bucket in one statement and spends them
in memory, so a busy key's shared row (or Redis key) is written once per lease, not once
per request: every request of one key writing the same row made them queue on its lock.
Tokens are counted in the shared bucket when leased, so the bucket's own limit holds for
what is leased; what a lease changes is *when* a leased token is spent. The bound:

    admitted by all replicas in any interval
        <= what the one shared bucket admits in it + the tokens outstanding at its start
        <= burst + rate * length + replicas * lease_size

and, the other way, a request may be refused while other replicas still hold up to
`lease_size` tokens each. A lease lapses `LEASE_TTL_S` after it was taken; its unspent
tokens go back to the bucket with the replica's next lease of that key (or at shutdown),
so an idle replica does not keep tokens from the others. A key limited to a few requests a
second leases one token at a time: exactly the shared bucket, as before leases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from incident_service.config import Settings
from incident_service.db import autocommit

log = logging.getLogger(__name__)

# A lease holds at most this many seconds of the key's rate, at most LEASE_MAX tokens and
# at most a quarter of its burst: small against the limit, large enough that a key near
# its rate touches the shared store a few times a second per replica.
LEASE_S = 0.1
LEASE_MAX = 100
LEASE_TTL_S = 1.0


def lease_size(rate: float, burst: float, lease_s: float = LEASE_S) -> int:
    """How many tokens one lease asks for (at least 1)."""
    return max(1, min(LEASE_MAX, int(rate * lease_s), int(burst / 4)))


class RateLimiter(Protocol):
    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        """0 when a request of `key_id` is allowed now (and counted), else the seconds
        until one is. `pool`: the API's connection pool (used by the PostgreSQL store)."""
        ...

    async def aclose(self, pool: Any) -> None:
        """Give back what is held (unspent leases) and close the store's client."""
        ...


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

    async def aclose(self, pool: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Grant:
    """A shared store's answer to a lease: `tokens` taken (0: none), else `wait` seconds."""

    tokens: int
    wait: float


# (pool, key_id, want, give_back, interval, window) -> Grant: one atomic call to the store
# that returns `give_back` unspent tokens and takes up to `want` new ones.
LeaseCall = Callable[[Any, UUID, int, int, float, float], Awaitable[Grant]]


class _Lease:
    __slots__ = ("expires", "interval", "refill", "tokens")

    def __init__(self) -> None:
        self.tokens = 0
        self.expires = 0.0
        self.interval = 1.0
        self.refill: asyncio.Task[float] | None = None


class Leases:
    """This replica's leases of shared tokens, one per key. While a lease is being taken,
    the key's other requests wait for it rather than each calling the store."""

    def __init__(
        self, call: LeaseCall, lease_s: float = LEASE_S, ttl_s: float = LEASE_TTL_S
    ) -> None:
        self._call = call
        self._lease_s = lease_s
        self._ttl_s = ttl_s
        self._leases: dict[UUID, _Lease] = {}

    async def take(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        lease = self._leases.get(key_id)
        if lease is None:
            lease = self._lease_of(key_id)
        while True:
            if lease.tokens > 0 and lease.expires > time.monotonic():
                lease.tokens -= 1
                return 0.0
            if lease.refill is None:
                # A task, not this request's coroutine: a client that disconnects while the
                # store answers must not cancel the lease the key's other requests wait for.
                lease.refill = asyncio.create_task(self._renew(lease, pool, key_id, rate, burst))
            wait = await asyncio.shield(lease.refill)
            if wait > 0:
                return wait

    def _lease_of(self, key_id: UUID) -> _Lease:
        if len(self._leases) > 100_000:  # lapsed leases hold nothing worth keeping
            now = time.monotonic()
            self._leases = {k: v for k, v in self._leases.items() if v.refill or v.expires > now}
        lease = self._leases[key_id] = _Lease()
        return lease

    async def _renew(
        self, lease: _Lease, pool: Any, key_id: UUID, rate: float, burst: float
    ) -> float:
        """Take a new lease (giving back a lapsed one's tokens); 0, or the wait."""
        give_back, lease.tokens = lease.tokens, 0
        interval = 1.0 / rate
        want = lease_size(rate, burst, self._lease_s)
        try:
            grant = await self._call(pool, key_id, want, give_back, interval, burst * interval)
            lease.tokens = grant.tokens
            lease.interval = interval
            lease.expires = time.monotonic() + self._ttl_s
            return 0.0 if grant.tokens else max(grant.wait, 1e-6)
        finally:
            lease.refill = None

    async def give_back(self, pool: Any) -> None:
        """Return every unspent token to the shared bucket (at shutdown)."""
        now = time.monotonic()
        for key_id, lease in list(self._leases.items()):
            if lease.tokens > 0 and lease.expires > now and lease.refill is None:
                tokens, lease.tokens = lease.tokens, 0
                await self._call(pool, key_id, 0, tokens, lease.interval, 0.0)
        self._leases.clear()


# One statement, atomic under concurrency: the inner select locks the key's row (so leases
# of one key through any replica are taken one after another) and yields the row as it is
# after any lease it waited for; the update writes the new TAT and returns the grant.
# `start` is the TAT with the returned tokens taken off, never before now (a full bucket);
# the grant is as many intervals as fit between it and now + window, at most `want`.
_PG_LEASE = (
    "update api_key_rate_limits as b"
    " set tat = l.start + l.granted * %(interval)s, allowed = l.granted > 0"
    " from (select key_id, start, now,"
    " greatest(0, least(%(want)s, floor((now + %(window)s - start) / %(interval)s + 1e-9)))::int"
    " as granted from (select key_id, extract(epoch from now())::float8 as now,"
    " greatest(tat - %(back)s * %(interval)s, extract(epoch from now())::float8) as start"
    " from api_key_rate_limits where key_id = %(key_id)s for update) s) l"
    " where b.key_id = %(key_id)s and b.key_id = l.key_id"
    " returning l.granted, l.start, l.now"
)
# A key's first lease: its row, as a full bucket (a TAT in the past).
_PG_NEW_KEY = (
    "insert into api_key_rate_limits (key_id, tat, allowed) values (%s, 0, true)"
    " on conflict (key_id) do nothing"
)


class PostgresLimiter:
    """GCRA in PostgreSQL, handed out in leases: one autocommit statement per lease."""

    def __init__(self, lease_s: float = LEASE_S, lease_ttl_s: float = LEASE_TTL_S) -> None:
        self._leases = Leases(self.lease, lease_s, lease_ttl_s)

    async def lease(
        self, pool: Any, key_id: UUID, want: int, back: int, interval: float, window: float
    ) -> Grant:
        """Give `back` tokens and take up to `want` (a `LeaseCall`)."""
        params = {
            "key_id": key_id,
            "want": want,
            "back": back,
            "interval": interval,
            "window": window,
        }
        async with autocommit(pool) as conn:
            row = await (await conn.execute(_PG_LEASE, params)).fetchone()
            if row is None:
                await conn.execute(_PG_NEW_KEY, (key_id,))
                row = await (await conn.execute(_PG_LEASE, params)).fetchone()
        assert row is not None
        granted = int(row["granted"])
        if granted:
            return Grant(granted, 0.0)
        return Grant(0, float(row["start"]) + interval - float(row["now"]) - window)

    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        return await self._leases.take(pool, key_id, rate, burst)

    async def aclose(self, pool: Any) -> None:
        await self._leases.give_back(pool)


# Redis's own clock (TIME), so replicas with skewed clocks agree. Lua numbers become
# integers in a Redis reply, hence the wait is returned as a string.
_REDIS_LEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local back = tonumber(ARGV[4])
local start = tonumber(redis.call('GET', KEYS[1]) or '0') - back * interval
if start < now then start = now end
local granted = math.floor((now + window - start) / interval + 1e-9)
if granted > want then granted = want end
if granted < 0 then granted = 0 end
local tat = start + granted * interval
if tat > now then
  redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
else
  redis.call('DEL', KEYS[1])
end
if granted > 0 then return {granted, '0'} end
return {0, tostring(start + interval - now - window)}
"""


class RedisLimiter:
    """GCRA in Redis, handed out in leases: one script call per lease."""

    # After a Redis failure the process limits on its own for this long before retrying,
    # so an outage costs one failed call every few seconds, not one per request.
    FALLBACK_S = 5.0

    def __init__(
        self,
        url: str,
        prefix: str = "incident-service:rate:",
        lease_s: float = LEASE_S,
        lease_ttl_s: float = LEASE_TTL_S,
    ) -> None:
        import redis.asyncio as redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._client.register_script(_REDIS_LEASE)
        self._prefix = prefix
        self._leases = Leases(self.lease, lease_s, lease_ttl_s)
        self._fallback = ProcessLimiter()
        self._fallback_until = 0.0

    async def lease(
        self, pool: Any, key_id: UUID, want: int, back: int, interval: float, window: float
    ) -> Grant:
        """Give `back` tokens and take up to `want` (a `LeaseCall`)."""
        granted, wait = await self._script(
            keys=[f"{self._prefix}{key_id}"], args=[repr(interval), repr(window), want, back]
        )
        return Grant(int(granted), float(wait))

    async def wait(self, pool: Any, key_id: UUID, rate: float, burst: float) -> float:
        if time.monotonic() < self._fallback_until:
            return self._fallback.take(key_id, rate, burst)
        try:
            return await self._leases.take(pool, key_id, rate, burst)
        except self._errors as exc:
            if time.monotonic() >= self._fallback_until:  # one warning per outage window
                log.warning(
                    "rate limits: Redis unreachable (%s); limiting per process for %.0f s",
                    type(exc).__name__,
                    self.FALLBACK_S,
                )
                self._fallback_until = time.monotonic() + self.FALLBACK_S
            return self._fallback.take(key_id, rate, burst)

    async def aclose(self, pool: Any) -> None:
        try:
            await self._leases.give_back(pool)
        except self._errors as exc:
            log.warning("rate limits: unspent leases not returned to Redis (%s)", exc)
        finally:
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
