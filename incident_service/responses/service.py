"""Automated-response rules: choosing actions at creation, reading them, retry and cancel.

Takes a connection inside the caller's transaction and never commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from incident_service.db import AsyncConn
from incident_service.errors import InvalidTransition, NotFound, missing_incident
from incident_service.responses import repository
from incident_service.responses.lifecycle import sources
from incident_service.responses.policies import PolicyFile, decide, incident_context
from incident_service.responses.schemas import (
    AutomatedResponse,
    IncidentResponses,
    PolicyMatch,
)
from incident_service.vocabulary import ResponseStatus

# The statuses by their short names, as the worker's steps use them.
PENDING, IN_PROGRESS = ResponseStatus.PENDING, ResponseStatus.IN_PROGRESS
SUCCEEDED, FAILED, SKIPPED = ResponseStatus.SUCCEEDED, ResponseStatus.FAILED, ResponseStatus.SKIPPED


class IncidentFacts(Protocol):
    """What the policies match on: an incident being created, or one whose severity
    changed (a structural type, so responses need not import the incidents package)."""

    @property
    def severity(self) -> Any: ...  # an IncidentSeverity (its `.value` is read)
    @property
    def assigned_team(self) -> str: ...
    @property
    def affected_services(self) -> list[str]: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def title(self) -> str: ...


def plan(
    policies: PolicyFile | None,
    request: IncidentFacts,
    predicted: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values `incidents.repository.insert_incident` needs to write the chosen actions,
    the decision (with the inputs it was made on) and the spec event's
    `automated_responses` in the incident's statement. `predicted`: the model's
    predictions for the incident, or None when no model is active."""
    if policies is None:
        return {}
    context = incident_context(
        severity=request.severity.value,
        assigned_team=request.assigned_team,
        affected_services=request.affected_services,
        labels=request.labels,
        title=request.title,
        predicted=predicted,
    )
    decision = decide(policies, context)
    return {
        "responses": [
            {
                "position": a.position,
                "action_type": a.spec.type,
                "parameters": a.spec.params,
                "policy_id": a.policy_id,
                "max_attempts": a.spec.max_attempts,
                "deadline_s": a.spec.deadline_s,
                "stop_on_failure": a.spec.stop_on_failure,
            }
            for a in decision.actions
        ],
        "automated_responses": [
            {"action_type": a.spec.type, "execution_status": PENDING} for a in decision.actions
        ],
        "policy_version": decision.policy_version,
        "matched": decision.matched,
        "not_matched": decision.not_matched,
        "inputs": context,
    }


async def incident_responses(
    conn: AsyncConn, incident_id: str, *, team: str | None
) -> IncidentResponses:
    """The responses and the decision behind them; 404 when the incident is not there for
    `team` (the caller's; None: every team), decided in SQL."""
    if await repository.incident_facts(conn, incident_id, team) is None:
        raise missing_incident(incident_id)
    decision = await repository.get_decision(conn, incident_id)
    rows = await repository.list_for_incident(conn, incident_id, team)
    return IncidentResponses(
        incident_id=incident_id,
        policy_version=decision["policy_version"] if decision else None,
        matched=[PolicyMatch(**m) for m in (decision["matched"] if decision else [])],
        not_matched=[PolicyMatch(**m) for m in (decision["not_matched"] if decision else [])],
        inputs=decision["inputs"] if decision else {},
        responses=[AutomatedResponse.from_row(r) for r in rows],
    )


async def _owned(
    conn: AsyncConn, incident_id: str, response_id: str, team: str | None
) -> dict[str, Any]:
    # Another team's response is answered exactly as one that does not exist.
    row = await repository.get_response(conn, response_id, team)
    if row is None or row["incident_id"] != incident_id:
        msg = f"response {response_id} of incident {incident_id} not found"
        raise NotFound(msg)
    return row


async def _move(
    conn: AsyncConn,
    incident_id: str,
    response_id: str,
    to: ResponseStatus,
    refusal: Callable[[str], str],
    *,
    actor: str,
    team: str | None,
    **change: Any,
) -> AutomatedResponse:
    """Move the incident's response to `to` from wherever the lifecycle allows; from
    anywhere else, InvalidTransition saying `refusal(its status)`."""
    row = await _owned(conn, incident_id, response_id, team)
    moved = await repository.transition(
        conn, response_id, from_any=sources(to), to=to, actor=actor, **change
    )
    if moved is None:
        status = row["execution_status"]
        raise InvalidTransition(refusal(status), execution_status=status)
    return AutomatedResponse.from_row(moved)


async def retry(
    conn: AsyncConn,
    incident_id: str,
    response_id: str,
    *,
    actor: str,
    team: str | None,
    note: str | None,
) -> AutomatedResponse:
    """A failed or skipped response goes back to pending and the worker runs it again."""
    moved = await _move(
        conn,
        incident_id,
        response_id,
        PENDING,
        lambda status: (
            f"response {response_id} is {status}; only failed or skipped ones can be retried"
        ),
        actor=actor,
        team=team,
        attempts=0,
        clear_error=True,
        note=note or "retry requested",
    )
    workflow_id = f"retry-{response_id}-{secrets.token_hex(4)}"
    await repository.enqueue(
        conn, "response_retry", workflow_id, incident_id, {"response_ids": [response_id]}
    )
    return moved


async def cancel(
    conn: AsyncConn,
    incident_id: str,
    response_id: str,
    *,
    actor: str,
    team: str | None,
    note: str | None,
) -> AutomatedResponse:
    """A pending or running response is skipped; an attempt already sent may still land,
    but its outcome no longer changes the response."""
    return await _move(
        conn,
        incident_id,
        response_id,
        SKIPPED,
        lambda status: f"response {response_id} is already {status}",
        actor=actor,
        team=team,
        error=f"cancelled by {actor}",
        note=note or "cancelled",
    )
