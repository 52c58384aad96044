"""API key rules: keys are shown once, stored as hashes, and revoked, never deleted."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from uuid import UUID

import psycopg

from incident_service.auth import repository
from incident_service.auth.repository import API_KEYS
from incident_service.auth.schemas import (
    ApiKey,
    ApiKeyCreate,
    CallerUser,
    CreatedApiKey,
    Principal,
    Scope,
)
from incident_service.auth.schemas import (
    Caller as CallerRead,
)
from incident_service.crud import Caller
from incident_service.errors import Forbidden, bad_field, outside_team
from incident_service.principal import ROLE_SCOPES, Role

KEY_PREFIX = "isk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _to_api_key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(**{**row, "scopes": [Scope(s) for s in row["scopes"]]})


def check_grant(request: ApiKeyCreate, by: Principal) -> None:
    """A key mints keys no wider than itself: its own team restriction, and at most its own
    scopes (`admin` may grant any scope, within its team)."""
    if by.team is not None and request.team != by.team:
        msg = f"this API key may only create keys restricted to team {by.team!r}"
        raise outside_team(msg)
    if Scope.ADMIN in by.scopes:
        return
    wider = sorted(s.value for s in set(request.scopes) - by.scopes)
    if wider:
        msg = f"this API key may not grant scopes it does not have: {', '.join(wider)}"
        raise Forbidden(
            msg, extra=[{"key": "scopes", "source": "body", "message": "beyond this key's"}]
        )


async def create_key(
    conn: psycopg.AsyncConnection[Any],
    request: ApiKeyCreate,
    *,
    actor: str,
    by: Principal | None = None,
) -> CreatedApiKey:
    """Create a key for `request`. `by`: the key asking (None: an operator at the CLI)."""
    if by is not None:
        check_grant(request, by)
    if request.user_id is not None and not await repository.user_in_team(
        conn, request.user_id, request.team
    ):
        # One answer whether the user is missing or in another team: nothing is revealed.
        msg = f"user {request.user_id} is not an active user" + (
            f" of team {request.team!r}" if request.team is not None else ""
        )
        raise bad_field("user_id", "not an active user of the key's team", summary=msg)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = await API_KEYS.insert(
        conn,
        {
            "name": request.name,
            "prefix": key[:12],
            "key_hash": hash_key(key),
            "scopes": sorted({s.value for s in request.scopes}),
            "team": request.team,
            "rate_limit": request.rate_limit,
            "user_id": request.user_id,
            "created_by": actor,
        },
    )
    return CreatedApiKey(key=key, api_key=_to_api_key(row))


@dataclass(frozen=True, slots=True)
class Refused:
    """A key that exists and is not revoked but may not be used: why (the 401's detail)."""

    reason: str


async def authenticate(conn: psycopg.AsyncConnection[Any], key: str) -> Principal | Refused | None:
    """The key's principal; `Refused` for a key acting for a deactivated user (the holder
    is told why, as a revoked key's is not: the key itself is proof it was theirs); None
    for an unknown or revoked key."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = await repository.find_active_by_hash(conn, hash_key(key))
    return None if row is None else principal_of(row)


def principal_of(row: dict[str, Any]) -> Principal | Refused:
    """The principal of an unrevoked key's row (`repository.find_active_by_hash`), or why
    it may not be used."""
    if row["user_id"] is not None and row["user_deactivated_at"] is not None:
        at = row["user_deactivated_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Refused(
            f"this API key acts for user {row['user_id']}, who was deactivated at {at}:"
            " it no longer authenticates (an admin may reactivate the user, or issue a key"
            " for someone else)"
        )
    return Principal(
        key_id=row["id"],
        # A key acting for a person: the person is the actor on every record.
        name=row["user_name"] if row["user_id"] is not None else row["name"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        team=row["team"],
        rate_limit=row["rate_limit"],
        user_id=row["user_id"],
    )


async def list_keys(conn: psycopg.AsyncConnection[Any], *, team: str | None = None) -> list[ApiKey]:
    """Every key, or with `team` (a team-restricted caller's) that team's keys only."""
    return [_to_api_key(r) for r in await API_KEYS.list(conn, team)]


async def revoke_key(conn: psycopg.AsyncConnection[Any], key_id: UUID, by: Caller) -> ApiKey:
    """Revoke a key; another team's key is not found (as if it did not exist)."""
    row = await API_KEYS.update(
        conn,
        key_id,
        by.team,
        {"revoked_by": by.name},
        # Revoking twice keeps the first revocation's time and actor.
        exprs={
            "revoked_at": "coalesce(revoked_at, now())",
            "revoked_by": "coalesce(revoked_by, %(revoked_by)s)",
        },
    )
    return _to_api_key(row)


async def ensure_bootstrap_key(conn: psycopg.AsyncConnection[Any]) -> str | None:
    """On a database with no active key, create an admin key and return it (shown once)."""
    await conn.execute("select pg_advisory_xact_lock(%s)", (0x0A91_4E75,))
    if await repository.count_active(conn) > 0:
        return None
    created = await create_key(
        conn,
        ApiKeyCreate(name="bootstrap-admin", scopes=[Scope.ADMIN]),
        actor="incident-service serve",
    )
    return created.key


async def whoami(conn: psycopg.AsyncConnection[Any], principal: Principal) -> CallerRead:
    """The calling key as it authenticated: its id, name, team scope and scopes, and the
    user it acts for with their teams (those the key sees: a team key, its own)."""
    key = await repository.key_name(conn, principal.key_id)
    assert key is not None  # it authenticated this request
    user = None
    if principal.user_id is not None:
        user = CallerUser(
            id=principal.user_id,
            name=key["user_name"],
            email=key["user_email"],
            teams=await repository.user_teams(conn, principal.user_id, principal.team),
        )
    return CallerRead(
        key_id=principal.key_id,
        key_name=key["name"],
        prefix=key["prefix"],
        team=principal.team,
        scopes=sorted(principal.scopes),
        rate_limit=principal.rate_limit,
        actor=principal.name,
        user=user,
    )


async def console_key(
    conn: psycopg.AsyncConnection[Any],
    *,
    user_id: UUID,
    name: str,
    role: Role,
    team: str | None,
    actor: str,
) -> UUID | Refused:
    """The key a user's OIDC sessions act through (one per user, `api_keys.console_user_id`):
    the role's scopes and the team their groups map to, brought up to date at each sign-in.
    Its secret is a random value nobody is shown, so it only ever works through a session;
    an admin revoking it ends the user's sessions and refuses their next sign-in."""
    row = await repository.upsert_console_key(
        conn,
        user_id=user_id,
        name=name,
        key_hash=hash_key(secrets.token_urlsafe(32)),
        scopes=sorted(s.value for s in ROLE_SCOPES[role]),
        team=team,
        actor=actor,
    )
    if row["revoked_at"] is not None:
        return Refused("your console access was revoked by an admin")
    key_id: UUID = row["id"]
    return key_id
