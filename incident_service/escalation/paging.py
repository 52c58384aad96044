"""`page_oncall`: the action that pages through the team's escalation policy.

It asks the worker (through the durable inbox) to start the incident's escalation
workflow; the workflow id is per incident, so an escalation already running is not
started twice. A team without a policy fails the action for good: nobody would be paged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incident_service.config import Settings
from incident_service.db import autocommit
from incident_service.escalation import repository
from incident_service.escalation.workflows import workflow_id
from incident_service.http import HttpClient
from incident_service.responses import repository as responses_repository
from incident_service.responses.actions import (
    ActionContext,
    ActionExecutor,
    ActionFailed,
    register_action,
)
from incident_service.workflows import engine


@dataclass
class PageOnCall:
    action_type: str = "page_oncall"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        team = ctx.incident.get("assigned_team", "")
        wid = workflow_id(ctx.incident_id)
        # Autocommit: the check and the cue are two statements, without BEGIN and COMMIT
        # (a policy removed in between is found missing by the escalation workflow).
        async with autocommit(engine.runtime().pool) as conn:
            if await repository.policy_for_team(conn, team) is None:
                msg = f"team {team!r} has no escalation policy: nobody to page"
                raise ActionFailed(msg, retryable=False)
            await responses_repository.enqueue(conn, "escalation_start", wid, ctx.incident_id, {})
        return {"escalation_workflow": wid}


def _factory(settings: Settings, client: HttpClient) -> ActionExecutor:
    return PageOnCall()


register_action("page_oncall", _factory)
