"""Console sessions: a cookie naming a server-side row, and the CSRF rules of its writes.

The cookie `incident_session` holds a random token; the table keeps only its SHA-256
(`sessions.id_sha256`, migration 0100). A session stands for:

- the API key it was opened with ("sign in with an API key"): the key's scopes, team and
  rate, read with the key on every request, so revoking the key (or deactivating the user
  it acts for) ends the session at once;
- or a user signed in through OIDC: the user's role (`users.role`, read on every request,
  so an admin's change applies at once) and the team their groups mapped to at sign-in.

A session ends at logout (`ended_at`), `session_ttl_h` after sign-in, or after
`session_idle_min` without a request. Each has its own CSRF token: every cookie-
authenticated write must carry it (`X-CSRF-Token` or the form field `_csrf_token`) and
must not come from another site (`Origin`, `Sec-Fetch-Site`). API-key requests need none:
a browser never adds an `Authorization` header by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from incident_service.auth import service
from incident_service.config import Settings
from incident_service.db import AsyncConn
from incident_service.principal import ROLE_SCOPES, Principal, Role, Scope

SESSION_COOKIE = "incident_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf_token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Opened:
    """A new session: the cookie's value (shown to the browser only) and its CSRF token."""

    token: str
    csrf_token: str
    max_age_s: int


@dataclass(frozen=True, slots=True)
class Session:
    """A live session as the guard sees it."""

    id_sha256: str
    principal: Principal
    csrf_token: str


async def _insert(
    conn: AsyncConn,
    settings: Settings,
    *,
    api_key_id: UUID | None = None,
    user_id: UUID | None = None,
    team: str | None = None,
) -> Opened:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        "insert into sessions (id_sha256, api_key_id, user_id, team, csrf_token, expires_at)"
        " values (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
        (hash_token(token), api_key_id, user_id, team, csrf, settings.session_ttl_h * 3600),
    )
    return Opened(token=token, csrf_token=csrf, max_age_s=int(settings.session_ttl_h * 3600))


async def open_for_key(
    conn: AsyncConn, key: str, settings: Settings
) -> Opened | service.Refused | None:
    """A session bound to API key `key`; `Refused` (why) or None (unknown/revoked key)."""
    principal = await service.authenticate(conn, key.strip())
    if not isinstance(principal, Principal):
        return principal
    return await _insert(conn, settings, api_key_id=principal.key_id)


async def open_for_user(
    conn: AsyncConn, user_id: UUID, team: str | None, settings: Settings
) -> Opened:
    """A session of a user signed in through OIDC, seeing `team` (None: every team)."""
    return await _insert(conn, settings, user_id=user_id, team=team)


_FIND = """
select s.id_sha256, s.api_key_id, s.user_id, s.team as session_team, s.csrf_token,
       s.last_seen_at < now() - interval '1 minute' as stale,
       k.name as key_name, k.scopes as key_scopes, k.team as key_team, k.rate_limit,
       k.user_id as key_user_id, k.revoked_at as key_revoked_at,
       ku.name as key_user_name, ku.deactivated_at as key_user_deactivated_at,
       u.name as user_name, u.role as user_role, u.deactivated_at as user_deactivated_at
from sessions s
left join api_keys k on k.id = s.api_key_id
left join users ku on ku.id = k.user_id
left join users u on u.id = s.user_id
where s.id_sha256 = %(id)s and s.ended_at is null and s.expires_at > now()
  and s.last_seen_at > now() - make_interval(secs => %(idle)s)
"""


def _principal(row: dict[str, Any]) -> Principal | None:
    if row["api_key_id"] is not None:
        if row["key_revoked_at"] is not None:
            return None
        if row["key_user_id"] is not None and row["key_user_deactivated_at"] is not None:
            return None
        return Principal(
            key_id=row["api_key_id"],
            name=row["key_user_name"] if row["key_user_id"] is not None else row["key_name"],
            scopes=frozenset(Scope(s) for s in row["key_scopes"]),
            team=row["key_team"],
            rate_limit=row["rate_limit"],
            user_id=row["key_user_id"],
        )
    if row["user_deactivated_at"] is not None:
        return None
    return Principal(
        key_id=row["user_id"],
        name=row["user_name"],
        scopes=ROLE_SCOPES[Role(row["user_role"])],
        team=row["session_team"],
        rate_limit=None,
        user_id=row["user_id"],
        session_user=True,
    )


async def find(pool: Any, token: str, settings: Settings) -> Session | None:
    """The live session whose cookie is `token` (its last request noted), or None."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    async with pool.connection() as conn:
        cur = await conn.execute(_FIND, {"id": digest, "idle": settings.session_idle_min * 60})
        row = await cur.fetchone()
        if row is None:
            return None
        principal = _principal(row)
        if principal is None:
            return None
        if row["stale"]:
            # The idle clock moves once a minute at most: not a write per request.
            await conn.execute(
                "update sessions set last_seen_at = now() where id_sha256 = %s", (digest,)
            )
    return Session(id_sha256=digest, principal=principal, csrf_token=row["csrf_token"])


async def end(conn: AsyncConn, id_sha256: str, actor: str) -> None:
    """Log out: the row stays, ended (by whom and when)."""
    await conn.execute(
        "update sessions set ended_at = now(), ended_by = %s"
        " where id_sha256 = %s and ended_at is null",
        (actor, id_sha256),
    )


def csrf_matches(expected: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        expected.encode(), presented.encode("utf-8", "replace")
    )


def cross_site(headers: Any, own_origin: str) -> str | None:
    """Why a write's headers show it came from another site, or None. `Origin` (when the
    browser sends one) must be this site's; `Sec-Fetch-Site` must not be `cross-site`."""
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "the request came from another site (Sec-Fetch-Site: cross-site)"
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/").lower() != own_origin.lower():
        return f"the request's Origin {origin[:100]!r} is not this site's"
    return None


def own_origin(settings: Settings, scheme: str, host: str) -> str:
    """This site's origin: from `public_url` when set, else as the request reached us."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{scheme}://{host}"


class LoginThrottle:
    """Failed sign-ins per client address, in this process: past `per_min` in a minute,
    the address waits (429 with Retry-After) until the oldest failure is a minute old."""

    def __init__(self, per_min: int) -> None:
        self._per_min = per_min
        self._failures: dict[str, deque[float]] = {}

    def wait(self, client: str) -> float:
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        now = time.monotonic()
        while failures and failures[0] < now - 60:
            failures.popleft()
        if len(failures) < self._per_min:
            return 0.0
        return failures[0] + 60 - now

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(time.monotonic())
