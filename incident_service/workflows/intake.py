"""What the worker starts when an incident opens: its response workflow (when policies
chose actions) and its escalation workflow (when its team has an escalation policy)."""

from __future__ import annotations

from typing import Any

from incident_service.db import AsyncConn
from incident_service.escalation import workflows as escalation
from incident_service.responses import workflows as responses
from incident_service.workflows import inbox


async def _on_incident_opened(conn: AsyncConn, rows: list[dict[str, Any]]) -> None:
    cur = await conn.execute(
        "select i.incident_id from incidents i"
        " join escalation_policies p on p.team = i.assigned_team"
        " where i.incident_id = any(%s)",
        ([r["incident_id"] for r in rows],),
    )
    escalate = {r["incident_id"] for r in await cur.fetchall()}
    for row in rows:
        if row["args"].get("responses", 0) > 0:
            await responses.start(f"responses-{row['incident_id']}", row["incident_id"], None)
        if row["incident_id"] in escalate:
            await escalation.start(row["incident_id"])


inbox.register_kind("incident_opened", _on_incident_opened)
