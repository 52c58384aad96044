"""Escalation configuration: on-call schedules, overrides and policies (validated CRUD,
each a team's own), and who is on call in a stored schedule.

A caller restricted to a team reads and changes its own team's rows only: the team is in
every query, so another team's schedule or policy is exactly as absent as a missing one.
Takes a connection inside the caller's transaction and never commits.
"""

from __future__ import annotations

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
        answer = await resolve(conn, row, at)
    except BrokenSchedule as exc:
        raise Conflict(str(exc)) from exc
    return OnCallNow(schedule_id=sid, at=at, person=answer.person, source=answer.source)


class BrokenSchedule(Exception):
    """A stored schedule that no longer validates (written before today's rules)."""


async def resolve(conn: AsyncConn, row: dict[str, Any], at: datetime) -> OnCall:
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
