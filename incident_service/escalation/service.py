"""Escalation rules: schedules and policies (validated CRUD), who to notify at a level,
and moving an incident's escalation on, by a person or by the escalation workflow.

Takes a connection inside the caller's transaction and never commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound, ValidationFailed
from incident_service.escalation import repository
from incident_service.escalation.schedules import Layer, OnCall, on_call
from incident_service.escalation.schedules import Override as OverrideSpan
from incident_service.escalation.schemas import (
    EscalationPolicy,
    OnCallNow,
    Override,
    OverrideWrite,
    PolicyWrite,
    Schedule,
    ScheduleWrite,
)

ANONYMOUS = "anonymous"
# Statuses in which an escalation still runs on its own: only an unacknowledged incident.
UNACKNOWLEDGED = frozenset({"OPEN"})
# Statuses in which nobody may escalate any more.
FINISHED = frozenset({"RESOLVED", "CLOSED"})


def _bad(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [{"key": key, "message": message, "source": "body"}])


# --- schedules -----------------------------------------------------------------------


async def _schedule(conn: AsyncConn, row: dict[str, Any]) -> Schedule:
    overrides = await repository.overrides_for(conn, [row["id"]])
    return Schedule(**row, overrides=[Override(**o) for o in overrides])


async def create_schedule(conn: AsyncConn, data: ScheduleWrite) -> Schedule:
    row = await repository.insert_schedule(conn, _schedule_values(data))
    if row is None:
        msg = f"a schedule named {data.name!r} already exists"
        raise Conflict(msg)
    return await _schedule(conn, row)


async def update_schedule(conn: AsyncConn, sid: UUID, data: ScheduleWrite) -> Schedule:
    other = await repository.schedule_named(conn, data.name)
    if other is not None and other["id"] != sid:
        msg = f"a schedule named {data.name!r} already exists"
        raise Conflict(msg)
    row = await repository.update_schedule(conn, sid, _schedule_values(data))
    if row is None:
        raise _schedule_missing(sid)
    return await _schedule(conn, row)


def _schedule_values(data: ScheduleWrite) -> dict[str, Any]:
    return {
        "name": data.name,
        "timezone": data.timezone,
        "layers": [layer.model_dump(mode="json") for layer in data.layers],
        "actor": data.actor or ANONYMOUS,
    }


def _schedule_missing(sid: UUID) -> NotFound:
    msg = f"schedule {sid} not found"
    return NotFound(msg)


async def get_schedule(conn: AsyncConn, sid: UUID) -> Schedule:
    row = await repository.get_schedule(conn, sid)
    if row is None:
        raise _schedule_missing(sid)
    return await _schedule(conn, row)


async def list_schedules(conn: AsyncConn) -> list[Schedule]:
    return [await _schedule(conn, row) for row in await repository.list_schedules(conn)]


async def delete_schedule(conn: AsyncConn, sid: UUID) -> None:
    users = await repository.policies_using_schedule(conn, sid)
    if users:
        msg = f"schedule {sid} is a target of the escalation policies of: {', '.join(users)}"
        raise Conflict(msg, teams=users)
    if not await repository.delete_schedule(conn, sid):
        raise _schedule_missing(sid)


async def add_override(conn: AsyncConn, sid: UUID, data: OverrideWrite) -> Override:
    await get_schedule(conn, sid)
    values = data.model_dump() | {"actor": data.actor or ANONYMOUS}
    return Override(**await repository.insert_override(conn, sid, values))


async def delete_override(conn: AsyncConn, sid: UUID, oid: UUID) -> None:
    if not await repository.delete_override(conn, sid, oid):
        msg = f"override {oid} of schedule {sid} not found"
        raise NotFound(msg)


async def who_is_on_call(conn: AsyncConn, sid: UUID, at: datetime | None) -> OnCallNow:
    at = at or datetime.now(UTC)
    row = await repository.get_schedule(conn, sid)
    if row is None:
        raise _schedule_missing(sid)
    answer = await _resolve(conn, row, at)
    return OnCallNow(schedule_id=sid, at=at, person=answer.person, source=answer.source)


async def _resolve(conn: AsyncConn, row: dict[str, Any], at: datetime) -> OnCall:
    overrides = [
        OverrideSpan(o["person"], o["starts_at"], o["ends_at"], o["created_at"])
        for o in await repository.overrides_for(conn, [row["id"]])
    ]
    layers = [Layer.model_validate(layer) for layer in row["layers"]]
    return on_call(row["timezone"], layers, overrides, at)


# --- policies ------------------------------------------------------------------------


async def _check_targets(conn: AsyncConn, data: PolicyWrite) -> None:
    for i, level in enumerate(data.levels):
        for j, target in enumerate(level.targets):
            if target.type != "schedule":
                continue
            try:
                sid = UUID(target.id)
            except ValueError:
                sid = None
            if sid is None or await repository.get_schedule(conn, sid) is None:
                key = f"levels.{i}.targets.{j}.id"
                raise _bad(key, f"no on-call schedule with id {target.id!r}")


def _policy_values(data: PolicyWrite) -> dict[str, Any]:
    return {
        "team": data.team,
        "name": data.name,
        "levels": [level.model_dump(mode="json") for level in data.levels],
        "repeat": data.repeat,
        "actor": data.actor or ANONYMOUS,
    }


async def create_policy(conn: AsyncConn, data: PolicyWrite) -> EscalationPolicy:
    await _check_targets(conn, data)
    row = await repository.insert_policy(conn, _policy_values(data))
    if row is None:
        msg = f"team {data.team!r} already has an escalation policy"
        raise Conflict(msg)
    return EscalationPolicy.from_row(row)


async def update_policy(conn: AsyncConn, pid: UUID, data: PolicyWrite) -> EscalationPolicy:
    await _check_targets(conn, data)
    other = await repository.policy_for_team(conn, data.team)
    if other is not None and other["id"] != pid:
        msg = f"team {data.team!r} already has an escalation policy"
        raise Conflict(msg)
    row = await repository.update_policy(conn, pid, _policy_values(data))
    if row is None:
        msg = f"escalation policy {pid} not found"
        raise NotFound(msg)
    return EscalationPolicy.from_row(row)


async def get_policy(conn: AsyncConn, pid: UUID) -> EscalationPolicy:
    row = await repository.get_policy(conn, pid)
    if row is None:
        msg = f"escalation policy {pid} not found"
        raise NotFound(msg)
    return EscalationPolicy.from_row(row)


async def list_policies(conn: AsyncConn) -> list[EscalationPolicy]:
    return [EscalationPolicy.from_row(r) for r in await repository.list_policies(conn)]


async def delete_policy(conn: AsyncConn, pid: UUID) -> None:
    if not await repository.delete_policy(conn, pid):
        msg = f"escalation policy {pid} not found"
        raise NotFound(msg)


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
    actor: str,
    reason: str,
    channel: str,
) -> Escalated:
    """Notify `level`'s targets (rows written as pending; the caller delivers them)."""
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
                    "actor": actor,
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
            "actor": actor,
            "reason": reason,
            "targets": [
                {"type": n["target_type"], "id": n["target"], "recipient": n["recipient"]}
                for n in notifications
            ],
        },
    )
    return Escalated(incident, previous, level, round_, spec["delay_minutes"] * 60.0, notifications)


async def _recipient(
    conn: AsyncConn, target: dict[str, Any], at: datetime
) -> tuple[str, str | None]:
    if target["type"] != "schedule":
        return target["id"], None
    row = await repository.get_schedule(conn, UUID(target["id"]))
    if row is None:
        return "nobody", f"schedule {target['id']} no longer exists"
    answer = await _resolve(conn, row, at)
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
        msg = f"incident {incident_id} not found"
        raise NotFound(msg)
    return incident


async def manual_escalation(
    conn: AsyncConn,
    incident_id: str,
    *,
    target_level: int | None,
    reason: str,
    actor: str,
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
            raise _bad("target_level", f"the policy has {levels} levels")
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
