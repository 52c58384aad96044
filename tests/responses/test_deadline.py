"""The deadline bounds retries, not the first try (responses.workflows.ResponseRunner).

A worker killed between an action's begin and its call (or a backlog before the call)
leaves the response in_progress with its clock started long ago. Its first call must
still be made: failing it "after 0 attempts" left incidents without the response their
policy chose. A retry past the deadline, though, fails without a call. Run in-process on
the suite's database (no worker runs on it), with the stand-in as the action target.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from pydantic import SecretStr

from incident_service.config import Settings
from incident_service.db import make_pool
from incident_service.durable import Resources
from incident_service.http import HttpClient
from incident_service.incidents import service
from incident_service.incidents.schemas import IncidentCreationRequest
from incident_service.responses import workflows
from incident_service.responses.policies import load_policies
from incident_service.worker_app import ACTIONS, CHANNELS, action_types
from testkit.targets import SECRET, StandIn


@pytest.fixture
def target() -> Iterator[StandIn]:
    """A stand-in of this module's own: the suite's is shared with the workflow tests,
    whose database numbers its incidents from the same INC-YYYYMMDD-001."""
    server = StandIn(secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture
async def runner(settings: Settings, target: StandIn) -> AsyncIterator[workflows.ResponseRunner]:
    configured = settings.model_copy(
        update={
            "automation_url": f"{target.url}/automation",
            "automation_secret": SecretStr(SECRET),
            "ticket_url": f"{target.url}/tickets",
        }
    )
    pool = make_pool(settings.database_url or "", configured)
    await pool.open()
    async with HttpClient(max_connections=4) as client:

        async def no_starts(*args: Any) -> None:
            raise AssertionError("no workflow is started here")

        resources = Resources(settings=configured, pool=pool, http=client, start_now=no_starts)
        channels = {name: build(resources) for name, build in CHANNELS.items()}
        executors = {name: build(resources, channels) for name, build in ACTIONS.items()}
        try:
            yield workflows.ResponseRunner(pool, executors, configured.action_http_timeout_s)
        finally:
            await pool.close()


async def _scale_up_begun_long_ago(url: str, team: str, attempts: int) -> dict[str, Any]:
    """An incident whose scale_up_service response was begun an hour ago (attempt
    `attempts`) and never called: as a worker killed mid-run leaves it."""
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        created = await service.create_incident(
            conn,  # type: ignore[arg-type]
            IncidentCreationRequest(
                title="Checkout latency", severity="SEV2_HIGH", assigned_team=team
            ),
            policies=load_policies(None, action_types()),
        )
        iid = created.incident.incident_id
        items = (await workflows.pending_items(conn, [iid]))[iid]  # type: ignore[arg-type]
        item = next(i for i in items if i["action_type"] == "scale_up_service")
        await conn.execute(
            "update automated_responses set execution_status = 'in_progress', attempts = %s,"
            " started_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'"
            " where response_id = %s",
            (attempts, item["response_id"]),
        )
        await conn.commit()
    return {"incident_id": iid, **item}


async def _status(url: str, response_id: str) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        cur = await conn.execute(
            "select execution_status, attempts, last_error from automated_responses"
            " where response_id = %s",
            (response_id,),
        )
        row = await cur.fetchone()
        assert row is not None
        return row


async def test_a_first_try_held_past_its_deadline_is_still_made(
    runner: workflows.ResponseRunner, settings: Settings, target: StandIn, team: str
) -> None:
    url = settings.database_url or ""
    item = await _scale_up_begun_long_ago(url, team, attempts=1)
    assert item["deadline_s"] < 3600  # the hour is well past the action's deadline
    tried = await runner._attempt(item["incident_id"], item, 1, None)
    assert tried.status == "succeeded" and tried.retry_in_s is None
    calls = [
        r for r in target.by_path("/automation/scale_up_service") if r.key == item["response_id"]
    ]
    assert len(calls) == 1
    assert (await _status(url, item["response_id"]))["attempts"] == 1


async def test_a_retry_past_the_deadline_fails_without_a_call(
    runner: workflows.ResponseRunner, settings: Settings, target: StandIn, team: str
) -> None:
    url = settings.database_url or ""
    item = await _scale_up_begun_long_ago(url, team, attempts=1)
    tried = await runner._attempt(item["incident_id"], item, 2, None)
    assert tried.status == "failed" and tried.retry_in_s is None
    calls = [
        r for r in target.by_path("/automation/scale_up_service") if r.key == item["response_id"]
    ]
    assert calls == []
    row = await _status(url, item["response_id"])
    assert row["attempts"] == 1 and "passed after 1 attempts" in row["last_error"]
