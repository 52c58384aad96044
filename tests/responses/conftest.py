"""Fixtures for the workflow tests: a database of their own, the app on it, HTTP
stand-ins for the action targets, and a real `incident-service worker` subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.databases import LOCAL_NETWORKS, make_api_key, migrated_database
from testkit.targets import SECRET, StandIn, targets_env
from testkit.worker import QUICK_WORKER, Worker, worker_env


@pytest.fixture(scope="session")
def standin() -> Iterator[StandIn]:
    server = StandIn(secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wf_database_url(server_url: str) -> Iterator[str]:
    with migrated_database(server_url, "incident_wf_test") as url:
        yield url


@pytest.fixture(scope="session")
def wf_settings(wf_database_url: str, standin: StandIn) -> Settings:
    return Settings(
        database_url=wf_database_url,
        db_pool_max_size=10,
        notify_webhook_url=f"{standin.url}/chat",
        notify_webhook_secret=SECRET,
        action_http_timeout_s=2,
        outbound_allow_networks=LOCAL_NETWORKS,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def wf_key(wf_database_url: str) -> str:
    return make_api_key(wf_database_url, name="wf-admin", scopes=["admin"], rate_limit=1_000_000)


@pytest.fixture(scope="session")
async def wf_client(wf_settings: Settings, wf_key: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    key = wf_key
    async with AsyncTestClient(app=create_app(wf_settings)) as client:
        client.headers.update({"Authorization": f"Bearer {key}"})
        yield client


@pytest.fixture(scope="session")
def worker(
    wf_database_url: str, standin: StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = (
        Worker(worker_env(wf_database_url, QUICK_WORKER, targets_env(standin)), log)
        .start()
        .wait_ready()
    )
    yield proc
    proc.stop()
