"""What the worker starts when an incident opens: its response workflow (when policies
chose actions) and its escalation workflow (when its team has an escalation policy)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from incident_service.db import AsyncConn, fetch_all
from incident_service.escalation.workflows import EscalationWorkflows
from incident_service.responses.workflows import ResponseWorkflows, pending_items
from incident_service.workflows.inbox import Handler


def incident_opened(responses: ResponseWorkflows, escalation: EscalationWorkflows) -> Handler:
    """The inbox handler of `incident_opened` rows."""

    async def handle(conn: AsyncConn, rows: list[dict[str, Any]]) -> None:
        await _on_incident_opened(responses, escalation, conn, rows)

    return handle


async def _on_incident_opened(
    responses: ResponseWorkflows,
    escalation: EscalationWorkflows,
    conn: AsyncConn,
    rows: list[dict[str, Any]],
) -> None:
    incident_ids = [r["incident_id"] for r in rows]
    escalate = {
        r["incident_id"]
        for r in await fetch_all(
            conn,
            "select i.incident_id from incidents i"
            " join escalation_policies p on p.team = i.assigned_team"
            " where i.incident_id = any(%s)",
            (incident_ids,),
        )
    }
    items = await pending_items(conn, incident_ids)
    starts: list[Coroutine[Any, Any, None]] = []
    for row in rows:
        iid = row["incident_id"]
        if row["args"].get("responses", 0) > 0:
            starts.append(responses.start(f"responses-{iid}", iid, None, items.get(iid, [])))
        if iid in escalate:
            starts.append(escalation.start(iid))
    await start_all(starts)


async def start_all(starts: list[Coroutine[Any, Any, None]], at_once: int = 16) -> None:
    """Enqueue workflows concurrently (each is a write through DBOS's own pool): a burst
    of incidents is handed to the queue in a fraction of the time one by one takes. All
    are awaited, so the caller marks its inbox rows dispatched only after every start."""
    gate = asyncio.Semaphore(at_once)

    async def one(start: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await start

    await asyncio.gather(*(one(s) for s in starts))
