"""The real `pagerduty.EventsApiV2Client`, pointed at our service served over TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pagerduty
import pytest
import trustme
import uvicorn

from incident_service.app import create_app
from incident_service.config import Settings
from tests.alerts.conftest import make_integration


@pytest.fixture(scope="module")
def tls_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ssl.SSLContext]]:
    authority = trustme.CA()
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        ssl_certfile=str(pem),
        ssl_keyfile=str(pem),
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the TLS server did not start"
        time.sleep(0.05)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    yield f"https://127.0.0.1:{port}", client_context
    server.should_exit = True
    thread.join(10)


async def test_real_events_client_triggers_acknowledges_resolves(client, team, tls_server) -> None:
    url, context = tls_server
    key = (await make_integration(client, team, "events-v2"))["integration_key"]
    events = pagerduty.EventsApiV2Client(key, base_url=url, verify=context)

    def page() -> tuple[str, str]:
        dedup = events.trigger(
            "Replication lag above 30 s",
            "db-7.example.com",
            dedup_key="db-7/lag",
            severity="error",
            payload={"timestamp": datetime.now(UTC).isoformat()},
        )
        generated = events.trigger("Queue backlog", "mq-1.example.com", severity="warning")
        events.acknowledge(dedup)
        return dedup, generated

    dedup, generated = await asyncio.to_thread(page)
    assert dedup == "db-7/lag" and len(generated) == 32
    listed = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()
    by_title = {i["title"]: i for i in listed}
    assert by_title["Replication lag above 30 s"]["status"] == "ACKNOWLEDGED"
    assert by_title["Replication lag above 30 s"]["severity"] == "SEV2_HIGH"
    await asyncio.to_thread(events.resolve, dedup)
    got = (
        await client.get(
            f"/api/v1/incidents/{by_title['Replication lag above 30 s']['incident_id']}"
        )
    ).json()
    assert got["status"] == "RESOLVED"

    # Change events: `submit` needs `timestamp=` (a bug in pagerduty 7.2.0 otherwise).
    await asyncio.to_thread(
        events.submit,
        "Deployed checkout v142",
        "ci.example.com",
        custom_details={"commit": "4be3f21"},
        timestamp=datetime.now(UTC).isoformat(),
    )

    # The client reports our 400 as PagerDuty's own error.
    bad = pagerduty.EventsApiV2Client("0" * 32, base_url=url, verify=context)
    with pytest.raises(pagerduty.Error):
        await asyncio.to_thread(bad.trigger, "x", "y")
