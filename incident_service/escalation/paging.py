"""`page_oncall`: the action that pages through the team's escalation policy.

It asks the worker (through the durable inbox) to start the incident's escalation
workflow; the workflow id is per incident, so an escalation already running is not
started twice. It reports what happened, not only that it asked:

- a team without a policy fails the action for good (nobody on call would be paged); the
  failure is recorded (timeline, `/escalation`, a `paging_failed` event) and the team's
  fallback (the default webhook channel) is told at once;
- unless there is no fallback either (NOTIFY_WEBHOOK_URL unset, as on a fresh install):
  then paging is not set up at all, and the action ends skipped with that reason;
- when the escalation's first page reached nobody (every level and the fallback failed),
  the action fails with the reasons: read here when the escalation got there first, and
  otherwise written onto this action's response by the escalation itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from incident_service.db import AsyncConn, autocommit
from incident_service.escalation import repository, service
from incident_service.escalation.notify import Channel, deliver
from incident_service.escalation.workflows import SYSTEM, workflow_id
from incident_service.executor import ActionContext, ActionFailed, ActionSkipped
from incident_service.responses import repository as responses_repository


@dataclass
class PageOnCall:
    pool: AsyncConnectionPool[AsyncConn]
    fallback: Channel  # the team's fallback when it has no policy: the webhook channel
    fallback_set: bool = True  # the fallback has somewhere to send (NOTIFY_WEBHOOK_URL)
    action_type: str = "page_oncall"

    async def execute(self, ctx: ActionContext) -> dict[str, Any]:
        team = ctx.incident.get("assigned_team", "")
        wid = workflow_id(ctx.incident_id)
        # Autocommit: the check and the cue are two statements, without BEGIN and COMMIT
        # (a policy removed in between is found missing by the escalation workflow).
        failed: str | None = None
        async with autocommit(self.pool) as conn:
            has_policy = await repository.policy_for_team(conn, team) is not None
            if has_policy:
                await responses_repository.enqueue(
                    conn, "escalation_start", wid, ctx.incident_id, {}
                )
                failed = await repository.first_page_failed(conn, ctx.incident_id)
        # The connection goes back before the fallback takes its own: holding one while
        # waiting for another starved the pool when every workflow of a burst did so (each
        # step then waited out the pool's 30 s timeout).
        if not has_policy:
            if not self.fallback_set:
                msg = f"{service.no_policy_reason(team)}, and no NOTIFY_WEBHOOK_URL set"
                raise ActionSkipped(msg)
            fallback = await self._no_policy(ctx)
            msg = f"{service.no_policy_reason(team)}; the team's fallback: {fallback}"
            raise ActionFailed(msg, retryable=False)
        if failed is not None:
            raise ActionFailed(failed, retryable=False)
        return {"escalation_workflow": wid}

    async def _no_policy(self, ctx: ActionContext) -> str:
        """Record the failure and tell the team's fallback: its delivery status."""
        incident = {"incident_id": ctx.incident_id} | ctx.incident
        async with self.pool.connection() as conn:
            await service.record_no_policy(conn, incident, SYSTEM)
            row = await service.page_fallback(
                conn,
                incident,
                key="nopolicy",
                level=0,
                round_=0,
                tick=None,
                reason=service.no_policy_reason(incident["assigned_team"]),
            )
        if row["delivery_status"] != "pending":  # a re-run: told already
            return str(row["delivery_status"])
        ok, attempts, error = await deliver(self.fallback, row, incident)
        async with self.pool.connection() as conn:
            await repository.record_delivery(
                conn, row["id"], delivered=ok, attempts=attempts, error=error
            )
        return "delivered" if ok else f"failed ({error})"
