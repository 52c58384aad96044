"""Escalation rules: who to notify at a level, and moving an incident's escalation on,
by a person or by the escalation workflow; a page that reaches nobody is recorded and
falls back to the team.

Takes a connection inside the caller's transaction and never commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, bad_field, missing_incident
from incident_service.escalation import repository
from incident_service.escalation.policies import Actor, BrokenSchedule, resolve
from incident_service.incidents.lifecycle import ACTIVE
from incident_service.vocabulary import IncidentStatus

# Statuses in which an escalation still runs on its own: only an unacknowledged incident.
UNACKNOWLEDGED = frozenset({IncidentStatus.OPEN})
# Statuses in which nobody may escalate any more: every one the lifecycle calls inactive.
FINISHED = frozenset(IncidentStatus) - ACTIVE


# --- escalating ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Escalated:
    incident: dict[str, Any]
    previous_level: int
    level: int
    round: int
    delay_s: float
    notifications: list[dict[str, Any]]


async def ensure_state(conn: AsyncConn, incident: dict[str, Any]) -> dict[str, Any] | None:
    """The incident's escalation state (locked), created from its team's policy; None when
    the team has no policy."""
    state = await repository.get_state(conn, incident["incident_id"])
    if state is None:
        policy = await repository.policy_for_team(conn, incident["assigned_team"])
        if policy is None:
            return None
        await repository.create_state(conn, incident["incident_id"], policy)
        state = await repository.get_state(conn, incident["incident_id"])
    return state


async def escalate_to(
    conn: AsyncConn,
    incident: dict[str, Any],
    state: dict[str, Any],
    *,
    level: int,
    round_: int,
    tick: int | None,
    actor: Actor,
    reason: str,
    channel: str,
) -> Escalated:
    """Notify `level`'s targets (rows written as pending; the caller delivers them). A
    target nobody can be found for is written as a failed notification, on the timeline
    and as a `paging_failed` event."""
    levels = state["policy"]["levels"]
    spec = levels[level - 1]
    now = datetime.now(UTC)
    nonce = f"t{tick}" if tick is not None else f"m{secrets.token_hex(6)}"
    notifications = []
    for i, target in enumerate(spec["targets"]):
        recipient, error = await _recipient(conn, target, now)
        notifications.append(
            await repository.insert_notification(
                conn,
                {
                    "incident_id": incident["incident_id"],
                    "tick": tick,
                    "level": level,
                    "round": round_,
                    "target_type": target["type"],
                    "target": target["id"],
                    "recipient": recipient,
                    "channel": channel,
                    "key": f"{incident['incident_id']}:{nonce}:L{level}:{i}",
                    "actor": actor.name,
                    # Nobody to tell is a failed delivery, recorded, not silently dropped.
                    "status": "failed" if error else "pending",
                    "error": error,
                },
            )
        )
    previous = state["level"]
    await repository.set_state(conn, incident["incident_id"], level=level, round_=round_, tick=tick)
    await repository.record_escalation(
        conn,
        incident,
        {
            "previous_level": previous,
            "level": level,
            "round": round_,
            "manual": tick is None,
            "actor": actor.name,
            "on_behalf_of": actor.on_behalf_of,
            "reason": reason,
            "targets": [
                {"type": n["target_type"], "id": n["target"], "recipient": n["recipient"]}
                for n in notifications
            ],
        },
    )
    return Escalated(incident, previous, level, round_, spec["delay_minutes"] * 60.0, notifications)


# The team's fallback target: when a page reached nobody (no policy, or every target of the
# last level failed), the team itself is told through the default channel (the webhook,
# NOTIFY_WEBHOOK_URL), as a notification of target type "fallback".
FALLBACK = "fallback"


async def page_fallback(
    conn: AsyncConn,
    incident: dict[str, Any],
    *,
    key: str,
    level: int,
    round_: int,
    tick: int | None,
    reason: str,
    actor: str = "system",
) -> dict[str, Any]:
    """The team's fallback notification (pending; the caller delivers it), with `reason`
    (why nobody was reached) on the timeline. Written once per `key`."""
    row = await repository.insert_notification(
        conn,
        {
            "incident_id": incident["incident_id"],
            "tick": tick,
            "level": level,
            "round": round_,
            "target_type": FALLBACK,
            "target": incident["assigned_team"],
            "recipient": f"team {incident['assigned_team']}",
            "channel": "webhook",
            "key": f"{incident['incident_id']}:{key}:fallback",
            "actor": actor,
            "status": "pending",
            "error": None,
        },
    )
    await repository.fallback_note(conn, incident["incident_id"], reason, actor)
    return row


async def record_no_policy(conn: AsyncConn, incident: dict[str, Any], actor: str) -> None:
    """A page for a team without a policy: a failed notification (level 0), on the
    timeline, in /escalation and as a `paging_failed` event."""
    team = incident["assigned_team"]
    await repository.insert_notification(
        conn,
        {
            "incident_id": incident["incident_id"],
            "tick": None,
            "level": 0,
            "round": 0,
            "target_type": "policy",
            "target": team,
            "recipient": "nobody",
            "channel": "webhook",
            "key": f"{incident['incident_id']}:nopolicy",
            "actor": actor,
            "status": "failed",
            "error": no_policy_reason(team),
        },
    )


def no_policy_reason(team: str) -> str:
    return f"team {team!r} has no escalation policy: nobody to page"


async def _recipient(
    conn: AsyncConn, target: dict[str, Any], at: datetime
) -> tuple[str, str | None]:
    if target["type"] != "schedule":
        return target["id"], None
    try:
        sid = UUID(target["id"])
    except ValueError:
        return "nobody", f"schedule {target['id']!r} is not a schedule id"
    # The system reads any team's schedule: the policy's targets were checked against its
    # team when it was written, and moving a schedule in use is refused.
    row = await repository.SCHEDULES.get(conn, sid, None)
    if row is None:
        return "nobody", f"schedule {target['id']} no longer exists"
    try:
        answer = await resolve(conn, row, at)
    except BrokenSchedule as exc:
        return "nobody", str(exc)
    if answer.person is None:
        return "nobody", f"nobody is on call in schedule {row['name']!r}"
    return answer.person, None


def next_step(state: dict[str, Any]) -> tuple[int, int] | None:
    """The (level, round) after the current one, or None when the policy is exhausted."""
    levels = len(state["policy"]["levels"])
    level, round_ = state["level"], state["round"]
    if level < levels:
        return level + 1, round_
    if round_ < state["policy"]["repeat"]:
        return 1, round_ + 1
    return None


async def incident_or_404(conn: AsyncConn, incident_id: str) -> dict[str, Any]:
    incident = await repository.incident_for_update(conn, incident_id)
    if incident is None:
        raise missing_incident(incident_id)
    return incident


async def manual_escalation(
    conn: AsyncConn,
    incident_id: str,
    *,
    target_level: int | None,
    reason: str,
    actor: Actor,
    channel: str,
) -> Escalated:
    """A person escalates: to `target_level`, or the next level by default."""
    incident = await incident_or_404(conn, incident_id)
    if incident["status"] in FINISHED:
        msg = f"incident {incident_id} is {incident['status']}; it can no longer be escalated"
        raise Conflict(msg, current_status=incident["status"])
    state = await ensure_state(conn, incident)
    if state is None:
        msg = f"team {incident['assigned_team']!r} has no escalation policy"
        raise Conflict(msg)
    levels = len(state["policy"]["levels"])
    level = target_level if target_level is not None else state["level"] + 1
    if level > levels:
        if target_level is not None:
            raise bad_field("target_level", f"the policy has {levels} levels")
        msg = f"incident {incident_id} is already at the last level ({levels})"
        raise Conflict(msg, escalation_level=state["level"])
    if level <= state["level"]:
        msg = f"incident {incident_id} is already at level {state['level']}"
        raise Conflict(msg, escalation_level=state["level"])
    return await escalate_to(
        conn,
        incident,
        state,
        level=level,
        round_=state["round"],
        tick=None,
        actor=actor,
        reason=reason,
        channel=channel,
    )
