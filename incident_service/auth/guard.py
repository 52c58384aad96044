"""The request guard: every route needs a valid API key unless it opts out.

Routes opt out with `opt={"public": True}` (probes; the OpenAPI docs only with PUBLIC_DOCS)
or authenticate by other means with `opt={"auth": "integration"}` (inbound alert and vendor
webhook routes, which carry their integration key or signature). Everything else:

- no key or an unknown/revoked key: 401; a key acting for a deactivated user: 401 saying so;
- a key without the route's scope (`opt["scope"]` for every method; else `incidents:read`
  for GET/HEAD, and `opt["write_scope"]` or `incidents:write` for other methods): 403;
  a route with `opt["any_scope"]` (`/api/v1/me`) takes any valid key;
- over the key's rate (counted across every replica, `ratelimit.py`): 429 with Retry-After;
- a team-restricted key on a route with `opt["all_teams"]` (whose answer covers every
  team, such as `/metrics`): 403;
- a team-restricted key on another team's incident (any route with an `incident_id`
  path parameter): 404, exactly as if the incident did not exist.

A request without a key may carry a console session's cookie (`sessions.py`): it stands
for the key the session acts as, under the same rules, and every write it authenticates
must bring the session's CSRF token (`X-CSRF-Token` or the form field `_csrf_token`) from
this site (`Origin`, `Sec-Fetch-Site`), else 403.

The principal is put on `request.state.principal` (and a session's CSRF token on
`request.state.csrf_token`); routes take it as the `principal` dependency and use its name
as the actor on the timeline.
"""

from __future__ import annotations

import math
import time
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from incident_service.auth import repository, service, sessions
from incident_service.auth.ratelimit import RateLimiter
from incident_service.auth.schemas import Principal, Scope
from incident_service.errors import Forbidden, RateLimited, Unauthorized, missing_incident

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticator:
    """Key verification with a short cache, and per-key rate limits (`ratelimit.py`: shared
    by every replica through PostgreSQL or Redis, or per process)."""

    def __init__(
        self,
        default_rate: int,
        burst_seconds: float,
        cache_s: float = 5.0,
        *,
        limiter: RateLimiter | None,
    ) -> None:
        """`limiter`: the store of the rate limits (`ratelimit.make_limiter`); None: off."""
        # A verified key is trusted for `cache_s` before it is looked up again: a busy key
        # costs no query, and a revocation takes effect within that time everywhere.
        self._cache_s = cache_s
        self._default_rate = default_rate
        self._burst_seconds = burst_seconds
        self._cache: dict[str, tuple[Principal | service.Refused | None, float]] = {}
        self._sessions: dict[str, tuple[sessions.LiveSession | service.Refused | None, float]] = {}
        self._limiter = limiter

    async def principal(self, pool: Any, key: str) -> Principal | service.Refused | None:
        digest = service.hash_key(key)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with pool.connection() as conn:
            principal = await service.authenticate(conn, key)
            if isinstance(principal, Principal):
                await repository.touch(conn, principal.key_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (principal, now + self._cache_s)
        return principal

    async def session(
        self, pool: Any, token: str, idle_s: float
    ) -> sessions.LiveSession | service.Refused | None:
        """The live session of cookie value `token` (cached as keys are)."""
        digest = "session:" + service.hash_key(token)
        cached = self._sessions.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with pool.connection() as conn:
            found = await sessions.live_session(conn, token, idle_s=idle_s)
        if len(self._sessions) > 10_000:
            self._sessions.clear()
        self._sessions[digest] = (found, now + self._cache_s)
        return found

    def forget_session(self, token: str) -> None:
        """A session ended here: not trusted from the cache a moment longer."""
        self._sessions.pop("session:" + service.hash_key(token), None)

    async def wait_needed(self, pool: Any, principal: Principal) -> float:
        """0 when the key may make this request (now counted), else the seconds to wait."""
        if self._limiter is None:
            return 0.0
        rate = float(principal.rate_limit or self._default_rate)
        burst = max(1.0, rate * self._burst_seconds)
        return await self._limiter.wait(pool, principal.key_id, rate, burst)

    async def aclose(self, pool: Any) -> None:
        """Give the limiter's unspent leases back (`pool`: still open) and close it."""
        if self._limiter is not None:
            await self._limiter.aclose(pool)


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    authorization = connection.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return connection.headers.get("x-api-key") or None


def required_scope(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> Scope:
    scope = handler.opt.get("scope")
    if scope is not None:
        return Scope(scope)
    method = connection.scope.get("method", "GET")
    if method in _READ_METHODS:
        return Scope.INCIDENTS_READ
    return Scope(handler.opt.get("write_scope", Scope.INCIDENTS_WRITE))


async def require_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    opt = handler.opt
    state = connection.app.state
    if opt.get("public") or opt.get("auth") == "integration":
        return
    if _is_docs(connection) and state.settings.public_docs:
        return
    key = presented_key(connection)
    csrf_token = ""
    found: Principal | sessions.LiveSession | service.Refused | None = None
    if key is not None:
        found = await state.authenticator.principal(state.db_pool, key)
    elif token := connection.cookies.get(sessions.SESSION_COOKIE):
        found = await state.authenticator.session(
            state.db_pool, token, state.settings.session_idle_s
        )
    if isinstance(found, service.Refused):
        raise Unauthorized(found.reason)
    if found is None:
        msg = "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"
        raise Unauthorized(msg)
    if isinstance(found, sessions.LiveSession):
        principal = found.principal
        csrf_token = found.csrf_token
        if connection.scope.get("method", "GET") not in _READ_METHODS:
            await _check_csrf(connection, csrf_token)
    else:
        principal = found
    connection.state.csrf_token = csrf_token

    scope = required_scope(connection, handler)
    if not opt.get("any_scope") and not principal.allows(scope):
        msg = f"this API key lacks the scope {scope.value!r}"
        raise Forbidden(msg, required_scope=scope.value)

    if opt.get("all_teams") and principal.team is not None:
        msg = "this route's answer covers every team; a team-restricted API key cannot read it"
        raise Forbidden(msg, required_scope=scope.value)

    wait = await state.authenticator.wait_needed(state.db_pool, principal)
    if wait > 0:
        msg = "rate limit exceeded for this API key"
        raise RateLimited(msg, retry_after=max(1, math.ceil(wait)))

    incident_id = connection.path_params.get("incident_id")
    if principal.team is not None and incident_id is not None:
        await _check_team(state.db_pool, principal, str(incident_id))
    connection.state.principal = principal


async def _check_csrf(connection: ASGIConnection[Any, Any, Any, Any], expected: str) -> None:
    """A write authenticated by the session cookie: from this site, with the session's
    token (header for htmx, form field for a plain form)."""
    if not sessions.from_this_site(connection.headers):
        msg = "a request from another site may not use this session"
        raise Forbidden(msg, extra=[{"key": "Origin", "source": "header", "message": "cross-site"}])
    presented = connection.headers.get(sessions.CSRF_HEADER)
    if presented is None and isinstance(connection, Request):
        kind = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            value = (await connection.form()).get(sessions.CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if not sessions.csrf_matches(expected, presented):
        msg = (
            "this write needs the session's CSRF token (X-CSRF-Token header or the"
            f" {sessions.CSRF_FIELD} form field); reload the page and try again"
        )
        field = {"key": sessions.CSRF_FIELD, "source": "body", "message": "missing or wrong"}
        raise Forbidden(msg, extra=[field])


async def _check_team(pool: Any, principal: Principal, incident_id: str) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select assigned_team from incidents where incident_id = %s", (incident_id,)
        )
        row = await cur.fetchone()
    if row is not None and not principal.sees_team(row["assigned_team"]):
        # The same answer as for an incident that does not exist: no existence leak.
        raise missing_incident(incident_id)


def _is_docs(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    path: str = connection.scope.get("path", "")
    return path == "/docs" or path.startswith("/docs/")


def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal = request.state.principal
    return principal
