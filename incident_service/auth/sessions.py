"""Console sign-in sessions (migration 0097): a random token in an HttpOnly cookie, its
SHA-256 in `console_sessions`, acting as one API key with that key's scopes and team.

Signing in with an API key binds the session to that key; signing in through the identity
provider binds it to the user's console key (`oidc.py`). Every write a cookie authenticates
must carry the session's CSRF token (the guard checks it): a cookie rides along on
requests other sites make, a token in the page does not.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import psycopg

from incident_service.auth import repository, service
from incident_service.auth.service import Refused
from incident_service.principal import Principal

SESSION_COOKIE = "incident_session"
CSRF_FIELD = "_csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session: the cookie's value (shown to the browser only) and its CSRF token."""

    token: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class LiveSession:
    principal: Principal
    csrf_token: str


async def open_session(
    conn: psycopg.AsyncConnection[Any], key_id: UUID, *, via: str, ttl_s: float
) -> OpenedSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await repository.insert_session(
        conn,
        token_hash=service.hash_key(token),
        key_id=key_id,
        via=via,
        csrf_token=csrf,
        ttl_s=ttl_s,
    )
    return OpenedSession(token=token, csrf_token=csrf)


async def sign_in_with_key(
    conn: psycopg.AsyncConnection[Any], key: str, *, ttl_s: float
) -> tuple[Principal, OpenedSession] | Refused | None:
    """A session bound to API key `key`; `Refused` (why) or None (unknown or revoked)."""
    principal = await service.authenticate(conn, key.strip())
    if not isinstance(principal, Principal):
        return principal
    opened = await open_session(conn, principal.key_id, via="api_key", ttl_s=ttl_s)
    return principal, opened


async def live_session(
    conn: psycopg.AsyncConnection[Any], token: str, *, idle_s: float
) -> LiveSession | Refused | None:
    """The session of cookie value `token`, if it is live and its key usable."""
    if len(token) > 100:
        return None
    row = await repository.find_live_session(conn, service.hash_key(token), idle_s)
    if row is None:
        return None
    principal = service.principal_of(row)
    if isinstance(principal, Refused):
        return principal
    return LiveSession(principal=principal, csrf_token=row["csrf_token"])


async def end_session(conn: psycopg.AsyncConnection[Any], token: str, *, actor: str) -> bool:
    return await repository.end_session(conn, service.hash_key(token), actor)


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Constant time: the comparison tells nothing of how much of a guess was right."""
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())


def from_this_site(headers: Mapping[str, str]) -> bool:
    """Whether a browser's write comes from our own pages: `Sec-Fetch-Site` (sent by every
    current browser) same-origin or none (typed, bookmarked), and `Origin`, when sent, our
    host. A request without either (curl, tests) passes: it carries no ambient cookie of a
    victim's browser, and the CSRF token still has to match."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    return origin is None or urlsplit(origin).netloc == headers.get("host")
