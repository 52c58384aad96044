"""HTTP routes: on-call schedules, overrides, escalation policies, manual escalation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from incident_service.errors import missing_incident
from incident_service.escalation import policies, repository
from incident_service.escalation.manual import escalate_now, notified_of
from incident_service.escalation.schemas import (
    EscalationPolicy,
    EscalationRequest,
    EscalationResult,
    OnCallNow,
    Override,
    OverrideWrite,
    PolicyWrite,
    Schedule,
    ScheduleWrite,
)
from incident_service.responses import repository as responses_repository
from incident_service.routing import (
    ConfigController,
    ConfigOps,
    Conn,
    Id,
    IncidentId,
    Me,
    Summaries,
)


class ScheduleController(
    ConfigController,
    item="schedule_id",
    write=ScheduleWrite,
    read=Schedule,
    ops=ConfigOps(
        create=policies.create_schedule,
        list_all=policies.list_schedules,
        get_one=policies.get_schedule,
        replace=policies.update_schedule,
        remove=policies.delete_schedule,
    ),
    summaries=Summaries(
        create="Create an on-call schedule (rotation layers, time zone)",
        list_all="List on-call schedules (a team key: its team's)",
        get_one="Get one schedule with its overrides",
        replace="Replace a schedule",
        remove="Delete a schedule (409 while a policy uses it)",
    ),
):
    """A team key sees and changes its own team's schedules only: another team's is a 404,
    exactly as a missing one."""

    path = "/api/v1/oncall-schedules"
    tags = ["escalation"]

    @get(
        "/{schedule_id:uuid}/oncall",
        summary="Who is on call (now, or at `at`)",
        description="`at` must lie between 1970-01-01 and 2199-12-31 (UTC); without an "
        "offset it is read as UTC.",
    )
    async def oncall(
        self,
        conn: Conn,
        principal: Me,
        schedule_id: Id,
        at: Annotated[datetime | None, QueryParameter()] = None,
    ) -> OnCallNow:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return await policies.who_is_on_call(conn, schedule_id, at, principal)

    @post("/{schedule_id:uuid}/overrides", summary="Put someone on call for a span of time")
    async def add_override(
        self, conn: Conn, principal: Me, schedule_id: Id, data: JSONBody[OverrideWrite]
    ) -> Override:
        return await policies.add_override(conn, schedule_id, data, principal)

    @delete("/{schedule_id:uuid}/overrides/{override_id:uuid}", summary="Remove an override")
    async def remove_override(
        self, conn: Conn, principal: Me, schedule_id: Id, override_id: Id
    ) -> None:
        await policies.delete_override(conn, schedule_id, override_id, principal)


class EscalationPolicyController(
    ConfigController,
    item="policy_id",
    write=PolicyWrite,
    read=EscalationPolicy,
    ops=ConfigOps(
        create=policies.create_policy,
        list_all=policies.list_policies,
        get_one=policies.get_policy,
        replace=policies.update_policy,
        remove=policies.delete_policy,
    ),
    summaries=Summaries(
        create="Create a team's escalation policy (one per team)",
        list_all="List escalation policies (a team key: its team's)",
        get_one="Get one escalation policy",
        replace="Replace a policy (running escalations keep the version they started with)",
        remove="Delete an escalation policy",
    ),
):
    """A team key sees and changes its own team's policy only (another team's is a 404),
    and a policy targets only its own team's schedules."""

    path = "/api/v1/escalation-policies"
    tags = ["escalation"]


@post(
    "/api/v1/incidents/{incident_id:str}/escalate",
    status_code=200,
    tags=["escalation"],
    summary="Escalate an incident now",
    description="To `target_level`, or the next level. 409 when the incident is resolved or "
    "closed, has no escalation policy, or is already at (or past) that level. When no "
    "target of the level is reached, the team's fallback is notified too.",
)
async def escalate(
    state: State,
    conn: Conn,
    principal: Me,
    incident_id: IncidentId,
    data: JSONBody[EscalationRequest],
) -> EscalationResult:
    return await escalate_now(
        conn,
        state.settings,
        incident_id,
        target_level=data.target_level,
        reason=data.reason,
        actor=policies.Actor(principal.name, data.actor),
    )


@get(
    "/api/v1/incidents/{incident_id:str}/escalation",
    tags=["escalation"],
    summary="The incident's escalation: current level and every notification",
)
async def escalation_status(conn: Conn, incident_id: IncidentId) -> dict[str, Any]:
    if await responses_repository.incident_facts(conn, incident_id) is None:
        raise missing_incident(incident_id)
    state = await repository.get_state(conn, incident_id, for_update=False)
    rows = await repository.list_notifications(conn, incident_id)
    return {
        "incident_id": incident_id,
        "escalation_level": state["level"] if state else 0,
        "round": state["round"] if state else 0,
        "stopped_reason": state["stopped_reason"] if state else None,
        "notifications": [
            {k: r[k] for k in ("level", "round", "recipient", "idempotency_key", "created_at")}
            | {"created_by": r["created_by"], "delivered_at": r["delivered_at"]}
            | {"notified": notified_of(r)}
            for r in rows
        ],
    }
