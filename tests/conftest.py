"""Shared fixtures: a dedicated database with the real migrations, and the app on it.

The databases come from `testkit.databases` (the benchmarks use the same): DATABASE_URL
names the server, else the embedded PostgreSQL under .data/. The suite creates its own
database, and drops only that one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit import databases
from testkit.databases import LOCAL_NETWORKS, make_api_key, migrated_database


def pytest_configure(config: pytest.Config) -> None:
    # Workers (pytest-xdist) need a server of their own: the embedded PostgreSQL takes 100
    # connections, fewer than three workers' apps, worker subprocesses and pools hold.
    workers = config.getoption("numprocesses", default=None)
    if workers and not os.environ.get("DATABASE_URL"):
        msg = "test workers need DATABASE_URL (a PostgreSQL server); run with -n 0 without it"
        raise pytest.UsageError(msg)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The long files first (`slow`), so that with workers taking a file at a time the run
    # does not end waiting on one long file started last; the order is otherwise kept.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def server_url() -> str:
    return databases.server_url()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh database for this test session, migrated with the real migrations."""
    with migrated_database(server_url, "incident_test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        db_pool_max_size=20,
        outbound_allow_networks=LOCAL_NETWORKS,  # type: ignore[arg-type]
    )


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
