"""Databases of their own on the PostgreSQL server, migrated with the real migrations.

DATABASE_URL names the server (CI: this machine's PostgreSQL). Without it, the embedded
PostgreSQL under .data/ is used, as `make run` does. Callers drop only what they created.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from incident_service.config import Settings
from incident_service.db import resolve_database_url, with_database
from incident_service.migrate import apply_migrations

ROOT = Path(__file__).resolve().parent.parent

# The tests' and benchmarks' receivers listen on 127.0.0.1, which the outbound address
# policy refuses by default.
LOCAL_NETWORKS = "127.0.0.0/8,::1/128"


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or resolve_database_url(
        Settings(database_url=None, data_dir=ROOT / ".data")
    )


def create_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return name


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def migrated_database(server: str, prefix: str) -> Iterator[str]:
    """A database of its own on `server`, migrated with the real migrations; dropped after."""
    name = create_database(server, prefix)
    try:
        url = with_database(server, name)
        apply_migrations(url)
        yield url
    finally:
        drop_database(server, name)


def make_api_key(
    database_url: str,
    *,
    name: str,
    scopes: list[str],
    team: str | None = None,
    rate_limit: int | None = None,
    actor: str = "tests",
) -> str:
    """Create an API key straight in the database (as `incident-service api-keys create`)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from psycopg.rows import dict_row

    from incident_service.auth import service as auth
    from incident_service.auth.schemas import ApiKeyCreate

    async def create() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
            request = ApiKeyCreate(name=name, scopes=scopes, team=team, rate_limit=rate_limit)  # type: ignore[arg-type]
            created = await auth.create_key(c, request, actor=actor)
            await c.commit()
            return created.key

    # Its own thread and loop, so sync and async callers alike can call it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, create()).result()
