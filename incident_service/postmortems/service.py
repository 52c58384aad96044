"""Post-mortems generated from the record: the rules for building, storing and serving.

Takes a connection inside the caller's transaction and never commits. Phase times:

- started: the first alert that fed the incident, else its creation.
- detected: the incident's creation (time to detect = detected - started).
- acknowledged: the incident's first acknowledgement.
- mitigated: the first move to MONITORING, else the resolution.
- resolved: the latest resolution.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound
from incident_service.followups import repository as follow_ups
from incident_service.followups.lifecycle import FollowUpState
from incident_service.followups.schemas import FollowUp
from incident_service.postmortems import render, repository, reviews
from incident_service.postmortems.schemas import (
    Impact,
    Postmortem,
    Prediction,
    ResponseOutcome,
    RoleHeld,
    StakeholderUpdateItem,
    TimelineItem,
)
from incident_service.predictions.similar import similar as similar_incidents
from incident_service.vocabulary import ResponseStatus

DEFINITIONS = {
    "started": "the first alert that fed the incident, else its creation",
    "detected": "the incident's creation; time to detect = detected - started",
    "acknowledged": "the first acknowledgement; time to acknowledge = acknowledged - detected",
    "mitigated": "the first move to MONITORING, else the resolution; time to mitigate ="
    " mitigated - detected",
    "resolved": "the latest resolution; time to resolve = resolved - detected",
    "duration": "resolved - started",
    "similar incidents": "earlier incidents of the same team sharing words of the title and"
    " description or affected services; score = 0.6 x word similarity (rarer words weigh"
    " more) + 0.4 x services overlap (Jaccard), as GET /api/v1/incidents/{id}/similar",
}
_FACTORS_PROMPT = "To be completed by the responders: what made this possible, and why then."
_ACTIONS_PROMPT = "To be completed: each action with an owner and a due date."


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def summarize_event(row: dict[str, Any]) -> str:
    """One line saying what a timeline entry was."""
    kind, details, note = row["kind"], row.get("details") or {}, row.get("note")
    if kind == "created":
        return f"Incident opened at {details.get('severity', '?')}"
    if kind == "status_changed":
        reopened = " (reopened)" if details.get("reopen") else ""
        said = f": {note}" if note else ""
        return f"Status {row.get('from_status')} -> {row.get('to_status')}{reopened}{said}"
    if kind == "alert":
        return f"Alert {details.get('action', '')}: {note or ''}".strip()
    if kind == "escalated":
        return f"Escalated{': ' + note if note else ''}"
    if kind.startswith("notification_"):
        return (
            f"Notification {kind.removeprefix('notification_')} to"
            f" {details.get('recipient', '?')} via {details.get('channel', '?')}"
        )
    if kind.startswith("response_"):
        return (
            f"Automated response {details.get('action_type', '?')}:"
            f" {details.get('execution_status') or kind.removeprefix('response_')}"
        )
    return f"{kind.replace('_', ' ').capitalize()}{': ' + note if note else ''}"


def follow_up_line(row: dict[str, Any]) -> str:
    """A follow-up as the post-mortem lists it: what, who, by when, and its state unless
    it is still open."""
    due = FollowUp.from_row(row).due
    owner = row["owner_display"] or "unassigned"
    state = "" if row["state"] == FollowUpState.OPEN else f" [{row['state']}]"
    return f"{row['title']} (owner: {owner}{f', due {due}' if due else ''}){state}"


async def action_items(conn: AsyncConn, incident_id: str, *, reviewed: bool) -> list[str]:
    """The incident's follow-ups as action items (those not being done left out); a
    prompt while there are none and no review was saved."""
    lines = [
        follow_up_line(f)
        # every team: the post-mortem is of an incident already found for its reader
        for f in await follow_ups.of_incident(conn, incident_id, None)
        if f["state"] != FollowUpState.WONT_DO
    ]
    return lines if lines or reviewed else [_ACTIONS_PROMPT]


def _stored_predictions(
    incident: dict[str, Any], at_open: dict[str, Any] | None
) -> list[Prediction] | None:
    """What the served model predicted when the incident opened, against what happened."""
    if at_open is None:
        return None
    model = f"{at_open['model_name']} v{at_open['model_version']}"
    actual_h = _seconds(incident["resolved_at"], incident["created_at"])
    proba = at_open["severity_probabilities"]
    return [
        Prediction(
            model=model,
            target="severity",
            predicted=f"{at_open['suggested_severity']}"
            f" (P = {proba.get(at_open['suggested_severity'], 0.0):.2f})",
            actual=str(incident["severity"]),
        ),
        Prediction(
            model=model,
            target="time to resolve (hours)",
            predicted=f"{at_open['ttr_p50_hours']:.1f} (p10 {at_open['ttr_p10_hours']:.1f},"
            f" p90 {at_open['ttr_p90_hours']:.1f})",
            actual=f"{actual_h / 3600:.1f}" if actual_h is not None else "not resolved",
        ),
    ]


async def build(conn: AsyncConn, incident_id: str, generated_by: str) -> Postmortem:
    """The post-mortem of a resolved incident, from its record as it stands now."""
    incident = await repository.get_incident(conn, incident_id)
    if incident is None:
        msg = f"incident {incident_id} does not exist"
        raise NotFound(msg)
    if incident["resolved_at"] is None:
        msg = (
            f"incident {incident_id} is {incident['status']}: its post-mortem is generated"
            " when it is resolved"
        )
        raise Conflict(msg, status=incident["status"])
    events = await repository.timeline(conn, incident_id)
    alerts = await repository.first_alert_at(conn, incident_id)
    responses = await repository.automated_responses(conn, incident_id)
    links = await repository.integration_links(conn, incident_id)
    review = await reviews.get(conn, incident_id)
    services = list(incident["affected_services"] or [])
    similar = await similar_incidents(conn, incident_id, limit=5)
    at_open = await repository.prediction_at_open(conn, incident_id)
    created, resolved = incident["created_at"], incident["resolved_at"]
    started = min(t for t in (alerts["first_at"], created) if t is not None)
    mitigated = next((e["occurred_at"] for e in events if e["to_status"] == "MONITORING"), resolved)
    impact = Impact(
        severity=incident["severity"],
        services=services,
        team=incident["assigned_team"],
        started_at=started,
        detected_at=created,
        acknowledged_at=incident["acknowledged_at"],
        mitigated_at=mitigated,
        resolved_at=resolved,
        duration_s=_seconds(resolved, started),
        time_to_detect_s=_seconds(created, started) or 0.0,
        time_to_acknowledge_s=_seconds(incident["acknowledged_at"], created),
        time_to_mitigate_s=_seconds(mitigated, created),
        time_to_resolve_s=_seconds(resolved, created),
        alerts=int(alerts["alerts"]),
        escalations=sum(1 for e in events if e["kind"] == "escalated"),
        reopen_count=int(incident["reopen_count"]),
    )
    timeline = [
        TimelineItem(
            event_id=int(e["id"]),
            occurred_at=e["occurred_at"],
            kind=e["kind"],
            actor=e["actor"],
            summary=summarize_event(e),
            from_status=e["from_status"],
            to_status=e["to_status"],
            note=e["note"],
            details=e["details"] or {},
        )
        for e in events
    ]
    outcomes = [
        ResponseOutcome(
            response_id=r["response_id"],
            action_type=r["action_type"],
            execution_status=r["execution_status"],
            executed_at=r.get("executed_at"),
            last_error=r.get("last_error"),
        )
        for r in responses
    ]
    succeeded = sum(1 for r in outcomes if r.execution_status == ResponseStatus.SUCCEEDED)
    summary = (
        f'{incident["severity"]} incident "{incident["title"]}" affecting'
        f" {', '.join(services) or 'no listed service'}, owned by {incident['assigned_team']}."
        f" Opened {created:%Y-%m-%d %H:%M} UTC and resolved {resolved:%Y-%m-%d %H:%M} UTC"
        f" ({render.duration(impact.time_to_resolve_s)} later). {len(timeline)} timeline"
        f" events, {impact.alerts} alerts, {impact.escalations} escalations,"
        f" {len(outcomes)} automated responses ({succeeded} succeeded)."
    )
    return Postmortem(
        incident_id=incident_id,
        title=incident["title"],
        status=incident["status"],
        summary=summary,
        impact=impact,
        timeline=timeline,
        automated_responses=outcomes,
        integration_links=[{k: v for k, v in link.items()} for link in links],
        predictions=_stored_predictions(incident, at_open),
        similar_incidents=similar,
        # What people wrote (PUT .../postmortem/review) survives every regeneration.
        contributing_factors=review.contributing_factors if review else [_FACTORS_PROMPT],
        # The action items are the incident's follow-ups (the review's among them).
        action_items=await action_items(conn, incident_id, reviewed=review is not None),
        definitions=DEFINITIONS,
        generated_at=datetime.now(UTC),
        generated_by=generated_by,
        roles=[RoleHeld(**r) for r in await repository.roles_held(conn, incident_id)],
        stakeholder_updates=[
            StakeholderUpdateItem(**u)
            for u in await repository.stakeholder_updates(conn, incident_id)
        ],
    )


def with_state(postmortem: Postmortem, row: dict[str, Any]) -> Postmortem:
    """The post-mortem with the review state and version of its stored row."""
    return msgspec.structs.replace(
        postmortem,
        state=row["state"],
        version=row["version"],
        published_at=row["published_at"],
        published_by=row["published_by"],
    )


async def generate(conn: AsyncConn, incident_id: str, generated_by: str) -> Postmortem:
    """Build and store (replacing an older draft; a published one is kept as it was and
    the next version begins) the incident's post-mortem."""
    postmortem = await build(conn, incident_id, generated_by)
    row = await repository.store(
        conn,
        incident_id,
        postmortem.impact.resolved_at,
        msgspec.to_builtins(postmortem),
        render.to_markdown(postmortem),
        generated_by,
    )
    return with_state(postmortem, row)


async def get_or_generate(conn: AsyncConn, incident_id: str, generated_by: str) -> Postmortem:
    """The stored post-mortem when it describes the latest resolution, else a new one."""
    stored = await repository.get_stored(conn, incident_id)
    if stored is not None:
        incident = await repository.get_incident(conn, incident_id)
        if incident is not None and incident["resolved_at"] == stored["resolved_at"]:
            with contextlib.suppress(msgspec.ValidationError):  # else: an older shape
                document = msgspec.convert(stored["document"], Postmortem, strict=False)
                if stored["state"] != "published":
                    # A draft lists the follow-ups as they are now; a published one, as
                    # they were when it was published.
                    reviewed = await reviews.get(conn, incident_id) is not None
                    document.action_items = await action_items(conn, incident_id, reviewed=reviewed)
                return with_state(document, stored)
    return await generate(conn, incident_id, generated_by)


async def generate_pending(
    conn: AsyncConn, after: datetime, generated_by: str, limit: int = 100
) -> list[str]:
    """Post-mortems for incidents resolved after `after` that lack a current one."""
    done = []
    for row in await repository.resolved_without_postmortem(conn, after, limit):
        await generate(conn, row["incident_id"], generated_by)
        done.append(row["incident_id"])
    return done
