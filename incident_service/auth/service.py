"""API key rules: keys are shown once, stored as hashes, and revoked, never deleted."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from uuid import UUID

import psycopg

from incident_service.auth import repository
from incident_service.auth.schemas import ApiKey, ApiKeyCreate, CreatedApiKey, Principal, Scope
from incident_service.errors import NotFound

KEY_PREFIX = "isk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _to_api_key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(**{**row, "scopes": [Scope(s) for s in row["scopes"]]})


async def create_key(
    conn: psycopg.AsyncConnection[Any], request: ApiKeyCreate, *, actor: str
) -> CreatedApiKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = await repository.insert_key(
        conn,
        {
            "name": request.name,
            "prefix": key[:12],
            "key_hash": hash_key(key),
            "scopes": sorted({s.value for s in request.scopes}),
            "team": request.team,
            "rate_limit": request.rate_limit,
            "created_by": actor,
        },
    )
    return CreatedApiKey(key=key, api_key=_to_api_key(row))


async def authenticate(conn: psycopg.AsyncConnection[Any], key: str) -> Principal | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = await repository.find_active_by_hash(conn, hash_key(key))
    if row is None:
        return None
    return Principal(
        key_id=row["id"],
        name=row["name"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        team=row["team"],
        rate_limit=row["rate_limit"],
    )


async def list_keys(conn: psycopg.AsyncConnection[Any]) -> list[ApiKey]:
    return [_to_api_key(r) for r in await repository.list_keys(conn)]


async def revoke_key(conn: psycopg.AsyncConnection[Any], key_id: UUID, *, actor: str) -> ApiKey:
    row = await repository.revoke(conn, key_id, actor)
    if row is None:
        msg = f"API key {key_id} not found"
        raise NotFound(msg)
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
