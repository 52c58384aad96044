"""`suggest_severity`: an action the response policies can choose when the model thinks an
incident is more severe than declared (e.g. `predicted.sev1_probability >= 0.6`).

It never changes the severity itself (people decide that): it records the suggestion on the
timeline (`severity_suggested`, actor `model:<name>@v<version>`) and in the event feed, once
per response however often the step re-runs (guarded by the response id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from incident_service.db import AsyncConn
from incident_service.executor import ActionContext
from incident_service.predictions import repository


@dataclass
class SuggestSeverity:
    pool: AsyncConnectionPool[AsyncConn]
    action_type: str = "suggest_severity"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            row = await repository.suggest_severity(conn, ctx.incident_id, ctx.response_id)
        if row is None:  # no prediction, not more severe, or already suggested
            return {"suggested": None}
        return {"suggested": row["suggested"], "current": row["severity"]}
