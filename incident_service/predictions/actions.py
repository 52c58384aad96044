"""`suggest_severity`: an action the response policies can choose when the model thinks an
incident is more severe than declared (e.g. `predicted.sev1_probability >= 0.6`).

It never changes the severity itself (people decide that): it records the suggestion on the
timeline (`severity_suggested`, actor `model:<name>@v<version>`) and in the event feed, once
per response however often the step re-runs (guarded by the response id).
"""

from __future__ import annotations

from typing import Any

from incident_service.config import Settings
from incident_service.http import HttpClient
from incident_service.predictions import repository
from incident_service.responses.actions import ActionContext, ActionExecutor, register_action


class SuggestSeverity:
    action_type = "suggest_severity"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        from incident_service.workflows import engine

        async with engine.runtime().pool.connection() as conn:
            row = await repository.suggest_severity(conn, ctx.incident_id, ctx.response_id)
        if row is None:  # no prediction, not more severe, or already suggested
            return {"suggested": None}
        return {"suggested": row["suggested"], "current": row["severity"]}


def _factory(settings: Settings, client: HttpClient) -> ActionExecutor:
    return SuggestSeverity()


register_action("suggest_severity", _factory)
