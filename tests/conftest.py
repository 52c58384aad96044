"""Shared fixtures: a dedicated database with the real migrations, and the app on it.

DATABASE_URL names the server (CI: this machine's PostgreSQL). Without it, the embedded
PostgreSQL under .data/ is used, as `make run` does. Either way the suite creates its own
database, and drops only that one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg import sql

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.db import resolve_database_url, with_database
from incident_service.migrate import apply_migrations

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    return os.environ.get("DATABASE_URL") or resolve_database_url(
        Settings(database_url=None, data_dir=ROOT / ".data")
    )


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


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


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh database for this test session, migrated with the real migrations."""
    with migrated_database(server_url, "incident_test") as url:
        yield url


# The tests' receivers listen on 127.0.0.1, which the outbound address policy refuses.
LOCAL_NETWORKS = "127.0.0.0/8,::1/128"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        db_pool_max_size=20,
        outbound_allow_networks=LOCAL_NETWORKS,  # type: ignore[arg-type]
    )


def make_api_key(
    database_url: str,
    *,
    name: str,
    scopes: list[str],
    team: str | None = None,
    rate_limit: int | None = None,
) -> str:
    """Create an API key straight in the database (as `incident-service api-keys create`)."""
    import asyncio

    from psycopg.rows import dict_row

    from incident_service.auth import service as auth
    from incident_service.auth.schemas import ApiKeyCreate

    async def create() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as c:
            request = ApiKeyCreate(name=name, scopes=scopes, team=team, rate_limit=rate_limit)  # type: ignore[arg-type]
            created = await auth.create_key(c, request, actor="tests")
            await c.commit()
            return created.key

    # Its own thread and loop, so sync and async tests alike can call it.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, create()).result()


@pytest.fixture(scope="session")
def admin_headers(database_url: str) -> dict[str, str]:
    """An admin key with a rate limit no test reaches."""
    key = make_api_key(database_url, name="test-admin", scopes=["admin"], rate_limit=1_000_000)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
async def client(
    settings: Settings, admin_headers: dict[str, str]
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        test_client.headers.update(admin_headers)
        yield test_client


@pytest.fixture
def team() -> str:
    """A team name no other test uses, so tests can filter down to their own incidents."""
    return f"team-{secrets.token_hex(4)}"


def new_incident(team: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Portfolio Management Service High Latency",
        "description": "p99 latency above 2 s",
        "severity": "SEV2_HIGH",
        "affected_services": ["portfolio_management_service"],
        "assigned_team": team,
    }
    body.update(overrides)
    return body


async def feed_until(client, params, predicate, *, headers=None, within: float = 30.0):  # type: ignore[no-untyped-def]
    """`GET /api/v1/events` until `predicate(events)` holds (or `within` seconds pass).

    The feed shows an event only once every older transaction on the server has ended, in
    any database, so another test's open transaction can hold one back for a moment."""
    import asyncio
    import time

    deadline = time.monotonic() + within
    while True:
        response = await client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        events = response.json()
        if predicate(events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.1)
