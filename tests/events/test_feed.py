"""The outbox feed: the spec's event shape, resuming by event_id, nothing lost."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from tests.conftest import new_incident

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def _events_for(client, incident_id: str, expected: int = 1) -> list[dict]:
    """The incident's events, waiting until `expected` are visible: the feed shows an event
    only once every older transaction on the server has ended (any database's, so another
    test's open transaction can delay it; it never skips it)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get("/api/v1/events", params={"incident_id": incident_id})
        assert response.status_code == 200, response.text
        if len(response.json()) >= expected or time.monotonic() > deadline:
            return response.json()
        await asyncio.sleep(0.1)


async def test_incident_created_has_exactly_the_spec_shape(client, team) -> None:
    incident = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    [event] = await _events_for(client, incident["incident_id"])
    assert set(event) == {"event_id", "timestamp", "incident_created"}
    uuid.UUID(event["event_id"])
    assert TIMESTAMP.match(event["timestamp"])
    assert event["incident_created"] == {
        "incident_id": incident["incident_id"],
        "title": incident["title"],
        "severity": "SEV2_HIGH",
        "status": "OPEN",
        "affected_services": ["portfolio_management_service"],
        "assigned_team": team,
        # Chosen by the packaged response policies (SEV2 + "Latency" in the title), in
        # order, pending until a worker runs them.
        "automated_responses": [
            {"action_type": "page_oncall", "execution_status": "pending"},
            {"action_type": "notify_webhook", "execution_status": "pending"},
            {"action_type": "scale_up_service", "execution_status": "pending"},
            {"action_type": "create_ticket", "execution_status": "pending"},
        ],
    }


async def test_status_change_event(client, team) -> None:
    incident = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    url = f"/api/v1/incidents/{incident['incident_id']}/status"
    await client.put(url, json={"status": "ACKNOWLEDGED", "actor": "carol", "note": "on it"})
    await client.put(url, json={"status": "ACKNOWLEDGED"})  # no-op: no event
    events = await _events_for(client, incident["incident_id"], expected=2)
    assert [next(k for k in e if k not in ("event_id", "timestamp")) for e in events] == [
        "incident_created",
        "incident_status_changed",
    ]
    changed = events[1]["incident_status_changed"]
    assert changed["previous_status"] == "OPEN" and changed["status"] == "ACKNOWLEDGED"
    assert changed["actor"] == "test-admin" and changed["on_behalf_of"] == "carol"
    assert changed["note"] == "on it"


async def test_unknown_after_is_400(client) -> None:
    response = await client.get("/api/v1/events", params={"after": str(uuid.uuid4())})
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "after"


async def test_consumer_resuming_by_event_id_misses_nothing_under_concurrent_writes(
    client, team
) -> None:
    # Start from the current end of the feed.
    last: str | None = None
    while True:
        params = {"limit": 1000} | ({"after": last} if last else {})
        page = (await client.get("/api/v1/events", params=params)).json()
        if not page:
            break
        last = page[-1]["event_id"]

    seen: list[str] = []
    done = asyncio.Event()

    created: set[str] = set()

    async def consume() -> None:
        nonlocal last
        deadline = None
        while True:
            finished = done.is_set() and set(seen) >= created
            if done.is_set() and deadline is None:
                deadline = time.monotonic() + 30  # the horizon may hold events back a while
            if deadline is not None and time.monotonic() > deadline:
                return
            params = {"limit": 7} | ({"after": last} if last else {})
            page = (await client.get("/api/v1/events", params=params)).json()
            for event in page:
                if (
                    "incident_created" in event
                    and event["incident_created"]["assigned_team"] == team
                ):
                    seen.append(event["incident_created"]["incident_id"])
            if page:
                last = page[-1]["event_id"]
            elif finished:
                return
            await asyncio.sleep(0 if page else 0.05)

    consumer = asyncio.create_task(consume())
    responses = await asyncio.gather(
        *(client.post("/api/v1/incidents", json=new_incident(team)) for _ in range(120))
    )
    created.update(r.json()["incident_id"] for r in responses)
    done.set()
    await consumer
    assert len(seen) == len(set(seen)), "no event delivered twice"
    assert set(seen) == created, "no event lost"


async def test_order_is_numeric_across_transaction_id_digits(client, database_url, team) -> None:
    """Positions compare as numbers: txid 999 comes before 1000 (not as text)."""
    import psycopg
    from psycopg.types.json import Jsonb

    incident = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    with psycopg.connect(database_url, autocommit=True) as conn:
        (current,) = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
        # Two events stamped with transaction ids just below a power of ten, and above it,
        # both older than any running transaction.
        base = 10 ** len(str(current)) if current < 10 ** len(str(current)) - 1 else current
        low, high = base // 10 - 1, base // 10
        assert high < current
        for txid, kind in ((low, "incident_created"), (high, "incident_created")):
            conn.execute(
                "insert into outbox (event_type, incident_id, payload, txid)"
                " values (%s, %s, %s, %s::text::xid8)",
                (
                    kind,
                    incident["incident_id"],
                    Jsonb(
                        {
                            "incident_id": incident["incident_id"],
                            "title": str(txid),
                            "severity": "SEV4_LOW",
                            "status": "OPEN",
                            "affected_services": [],
                            "assigned_team": team,
                            "automated_responses": [],
                        }
                    ),
                    str(txid),
                ),
            )
    seen: list[str] = []
    after = None
    deadline = time.monotonic() + 30
    while len(seen) < 3 and time.monotonic() < deadline:
        params = {"limit": 1, "incident_id": incident["incident_id"]} | (
            {"after": after} if after else {}
        )
        page = (await client.get("/api/v1/events", params=params)).json()
        if not page:
            await asyncio.sleep(0.1)
            continue
        after = page[-1]["event_id"]
        seen += [e["incident_created"]["title"] for e in page]
    assert seen[:2] == [str(low), str(high)]
    assert len(seen) == 3, "the incident's own creation event, once"
