"""`page_oncall` for a team without a policy takes a connection for the fallback's record:
it must give back the one it checked the policy with first. Holding one while waiting for
another starved the worker's pool when a burst of incidents all paged at once (every step
then waited out the pool timeout, which was the 30-90 s first starts of the workflow
benchmark's burst)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from incident_service.escalation.paging import PageOnCall
from incident_service.executor import ActionContext, ActionFailed
from tests.conftest import new_incident


class _Recorded:
    """The team's fallback channel: records what it was told (the HTTP channel's own
    behaviour is covered in test_paging_failures)."""

    name = "webhook"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, notification: dict[str, Any], incident: dict[str, Any]) -> None:
        self.sent.append(incident["incident_id"])


async def test_a_burst_without_a_policy_does_not_starve_the_pool(
    client, database_url: str, team: str
) -> None:
    ids = []
    for _ in range(6):
        answer = await client.post("/api/v1/incidents", json=new_incident(team))
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["incident_id"])
    channel = _Recorded()
    async with AsyncConnectionPool(
        database_url,
        min_size=2,
        max_size=2,  # fewer connections than concurrent actions, as in a burst
        timeout=5,
        kwargs={"row_factory": dict_row},
        connection_class=AsyncConnection[dict[str, Any]],
        open=False,
    ) as pool:
        action = PageOnCall(pool, channel)

        async def page(iid: str) -> str:
            ctx = ActionContext(
                response_id=f"{iid}-bench",
                incident_id=iid,
                action_type="page_oncall",
                params={},
                incident={"assigned_team": team, "title": "t", "severity": "SEV2_HIGH"},
                attempt=1,
                timeout_s=5,
            )
            with pytest.raises(ActionFailed) as failed:
                await action.execute(ctx)
            return str(failed.value)

        reasons = await asyncio.wait_for(asyncio.gather(*(page(i) for i in ids)), 20)
    assert all("fallback: delivered" in reason for reason in reasons), reasons
    assert sorted(channel.sent) == sorted(ids)
