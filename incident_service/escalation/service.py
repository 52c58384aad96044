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
from incident_service.errors import Conflict, Forbidden, NotFound, ValidationFailed
from incident_service.escalation import repository
from incident_service.escalation.schedules import DATE_RANGE, Layer, OnCall, in_range, on_call
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

# Statuses in which an escalation still runs on its own: only an unacknowledged incident.
UNACKNOWLEDGED = frozenset({"OPEN"})
# Statuses in which nobody may escalate any more.
FINISHED = frozenset({"RESOLVED", "CLOSED"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes something: the authenticated key's name, and whom the request says it
    acts for (the body's `actor`), kept beside it as `on_behalf_of`, never instead of it."""

    name: str
    on_behalf_of: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller's team restriction (None: every team) and who it is."""

    team: str | None
    actor: Actor


def _bad(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [{"key": key, "message": message, "source": "body"}])


def _owner(caller: Caller, team: str | None) -> str:
    """The team a written resource belongs to: a team key's own (another is refused,
    naming only the caller's team); a key of every team must name one."""
    if caller.team is not None:
        if team is not None and team != caller.team:
            msg = f"this API key may only manage team {caller.team!r}'s configuration"
            raise Forbidden(
                msg, extra=[{"key": "team", "source": "body", "message": "outside this key's team"}]
            )
        return caller.team
    if team is None:
        raise _bad("team", "the owning team is required with a key not restricted to a team")
    return team


# --- schedules -----------------------------------------------------------------------


async def _schedule(conn: AsyncConn, row: dict[str, Any]) -> Schedule:
    overrides = await repository.overrides_for(conn, [row["id"]])
    return Schedule(**row, overrides=[Override(**o) for o in overrides])


async def create_schedule(conn: AsyncConn, data: ScheduleWrite, caller: Caller) -> Schedule:
    row = await repository.insert_schedule(conn, _schedule_values(data, caller))
    if row is None:
        msg = f"a schedule named {data.name!r} already exists in this team"
        raise Conflict(msg)
    return await _schedule(conn, row)


async def update_schedule(
    conn: AsyncConn, sid: UUID, data: ScheduleWrite, caller: Caller
) -> Schedule:
    current = await repository.get_schedule(conn, sid, caller.team)
    if current is None:
        raise _schedule_missing(sid)
    values = _schedule_values(data, caller)
    other = await repository.schedule_named(conn, data.name, values["owner"])
    if other is not None and other["id"] != sid:
        msg = f"a schedule named {data.name!r} already exists in this team"
        raise Conflict(msg)
    if values["owner"] != current["team"]:
        # A policy targets its own team's schedules only: moving one they use would page
        # another team's people for them.
        users = await repository.policies_using_schedule(conn, sid)
        if users:
            msg = f"schedule {sid} is a target of the escalation policies of: {', '.join(users)}"
            raise Conflict(msg, teams=users)
    row = await repository.update_schedule(conn, sid, values, caller.team)
    if row is None:
        raise _schedule_missing(sid)
    return await _schedule(conn, row)


def _schedule_values(data: ScheduleWrite, caller: Caller) -> dict[str, Any]:
    return {
        "owner": _owner(caller, data.team),
        "name": data.name,
        "timezone": data.timezone,
        "layers": [layer.model_dump(mode="json") for layer in data.layers],
        "actor": caller.actor.name,
        "on_behalf_of": data.actor,
    }


def _schedule_missing(sid: UUID) -> NotFound:
    msg = f"schedule {sid} not found"
    return NotFound(msg)


async def get_schedule(conn: AsyncConn, sid: UUID, team: str | None) -> Schedule:
    row = await repository.get_schedule(conn, sid, team)
    if row is None:
        raise _schedule_missing(sid)
    return await _schedule(conn, row)


async def list_schedules(conn: AsyncConn, team: str | None) -> list[Schedule]:
    return [await _schedule(conn, row) for row in await repository.list_schedules(conn, team)]


async def delete_schedule(conn: AsyncConn, sid: UUID, team: str | None) -> None:
    if await repository.get_schedule(conn, sid, team) is None:
        raise _schedule_missing(sid)
    users = await repository.policies_using_schedule(conn, sid)
    if users:
        msg = f"schedule {sid} is a target of the escalation policies of: {', '.join(users)}"
        raise Conflict(msg, teams=users)
    if not await repository.delete_schedule(conn, sid, team):
        raise _schedule_missing(sid)


async def add_override(conn: AsyncConn, sid: UUID, data: OverrideWrite, caller: Caller) -> Override:
    await get_schedule(conn, sid, caller.team)
    values = data.model_dump() | {"actor": caller.actor.name, "on_behalf_of": data.actor}
    return Override(**await repository.insert_override(conn, sid, values))


async def delete_override(conn: AsyncConn, sid: UUID, oid: UUID, team: str | None) -> None:
    if await repository.get_schedule(conn, sid, team) is None or not (
        await repository.delete_override(conn, sid, oid)
    ):
        msg = f"override {oid} of schedule {sid} not found"
        raise NotFound(msg)


async def who_is_on_call(
    conn: AsyncConn, sid: UUID, at: datetime | None, team: str | None
) -> OnCallNow:
    at = at or datetime.now(UTC)
    if not in_range(at):
        msg = f"must be {DATE_RANGE}"
        raise ValidationFailed(msg, [{"key": "at", "message": msg, "source": "query"}])
    row = await repository.get_schedule(conn, sid, team)
    if row is None:
        raise _schedule_missing(sid)
    try:
        answer = await _resolve(conn, row, at)
    except BrokenSchedule as exc:
        raise Conflict(str(exc)) from exc
    return OnCallNow(schedule_id=sid, at=at, person=answer.person, source=answer.source)


class BrokenSchedule(Exception):
    """A stored schedule that no longer validates (written before today's rules)."""


async def _resolve(conn: AsyncConn, row: dict[str, Any], at: datetime) -> OnCall:
    overrides = [
        OverrideSpan(o["person"], o["starts_at"], o["ends_at"], o["created_at"])
        for o in await repository.overrides_for(conn, [row["id"]])
    ]
    try:
        layers = [Layer.model_validate(layer) for layer in row["layers"]]
        return on_call(row["timezone"], layers, overrides, at)
    except (ValueError, OverflowError, KeyError) as exc:  # pydantic's ValidationError too
        msg = f"schedule {row['name']!r} has an invalid layer; replace it (PUT): {exc}"[:500]
        raise BrokenSchedule(msg) from exc


# --- policies ------------------------------------------------------------------------


async def _check_targets(conn: AsyncConn, data: PolicyWrite) -> None:
    """A schedule target must be one of the policy's own team's schedules (another team's
    is answered exactly as a missing one)."""
    for i, level in enumerate(data.levels):
        for j, target in enumerate(level.targets):
            if target.type != "schedule":
                continue
            try:
                sid = UUID(target.id)
            except ValueError:
                sid = None
            if sid is None or await repository.get_schedule(conn, sid, data.team) is None:
                key = f"levels.{i}.targets.{j}.id"
                raise _bad(key, f"no on-call schedule of team {data.team!r} with id {target.id!r}")


def _policy_values(data: PolicyWrite, caller: Caller) -> dict[str, Any]:
    return {
        "team": _owner(caller, data.team),
        "name": data.name,
        "levels": [level.model_dump(mode="json") for level in data.levels],
        "repeat": data.repeat,
        "actor": caller.actor.name,
        "on_behalf_of": data.actor,
    }


async def create_policy(conn: AsyncConn, data: PolicyWrite, caller: Caller) -> EscalationPolicy:
    values = _policy_values(data, caller)
    await _check_targets(conn, data)
    row = await repository.insert_policy(conn, values)
    if row is None:
        msg = f"team {data.team!r} already has an escalation policy"
        raise Conflict(msg)
    return EscalationPolicy.from_row(row)


async def update_policy(
    conn: AsyncConn, pid: UUID, data: PolicyWrite, caller: Caller
) -> EscalationPolicy:
    if await repository.get_policy(conn, pid, caller.team) is None:
        raise _policy_missing(pid)
    values = _policy_values(data, caller)
    await _check_targets(conn, data)
    other = await repository.policy_for_team(conn, data.team)
    if other is not None and other["id"] != pid:
        msg = f"team {data.team!r} already has an escalation policy"
        raise Conflict(msg)
    row = await repository.update_policy(conn, pid, values, caller.team)
    if row is None:
        raise _policy_missing(pid)
    return EscalationPolicy.from_row(row)


def _policy_missing(pid: UUID) -> NotFound:
    msg = f"escalation policy {pid} not found"
    return NotFound(msg)


async def get_policy(conn: AsyncConn, pid: UUID, team: str | None) -> EscalationPolicy:
    row = await repository.get_policy(conn, pid, team)
    if row is None:
        raise _policy_missing(pid)
    return EscalationPolicy.from_row(row)


async def list_policies(conn: AsyncConn, team: str | None) -> list[EscalationPolicy]:
    return [EscalationPolicy.from_row(r) for r in await repository.list_policies(conn, team)]


async def delete_policy(conn: AsyncConn, pid: UUID, team: str | None) -> None:
    if not await repository.delete_policy(conn, pid, team):
        raise _policy_missing(pid)


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
    row = await repository.get_schedule(conn, sid, None)
    if row is None:
        return "nobody", f"schedule {target['id']} no longer exists"
    try:
        answer = await _resolve(conn, row, at)
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
        msg = f"incident {incident_id} not found"
        raise NotFound(msg)
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
