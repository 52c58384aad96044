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

from incident_service.crud import Caller
from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound, bad_field, outside_team
from incident_service.escalation import repository
from incident_service.escalation.repository import POLICIES, SCHEDULES
from incident_service.escalation.schedules import (
    DATE_RANGE,
    Handoff,
    Layer,
    OnCall,
    in_range,
    next_handoffs,
    on_call,
)
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


def _owner(by: Caller, team: str | None) -> str:
    """The team a written resource belongs to: a team key's own (another is refused,
    naming only the caller's team); a key of every team must name one."""
    if by.team is not None:
        if team is not None and team != by.team:
            msg = f"this API key may only manage team {by.team!r}'s configuration"
            raise outside_team(msg)
        return by.team
    if team is None:
        raise bad_field("team", "the owning team is required with a key not restricted to a team")
    return team


def _written_by(by: Caller, on_behalf_of: str | None) -> dict[str, Any]:
    return {"updated_by": by.name, "on_behalf_of": on_behalf_of}


# --- schedules -----------------------------------------------------------------------


async def _schedule(conn: AsyncConn, row: dict[str, Any]) -> Schedule:
    overrides = await repository.overrides_for(conn, [row["id"]])
    return Schedule(**row, overrides=[Override(**o) for o in overrides])


def _schedule_values(data: ScheduleWrite, by: Caller) -> dict[str, Any]:
    return {
        "team": _owner(by, data.team),
        "name": data.name,
        "timezone": data.timezone,
        "layers": [layer.model_dump(mode="json") for layer in data.layers],
    } | _written_by(by, data.actor)


def _name_taken(name: str) -> str:
    return f"a schedule named {name!r} already exists in this team"


async def _refuse_if_targeted(conn: AsyncConn, sid: UUID) -> None:
    # A policy targets its own team's schedules only: removing or moving one it uses would
    # leave it paging nobody, or another team's people.
    users = await repository.policies_using_schedule(conn, sid)
    if users:
        msg = f"schedule {sid} is a target of the escalation policies of: {', '.join(users)}"
        raise Conflict(msg, teams=users)


async def create_schedule(conn: AsyncConn, data: ScheduleWrite, by: Caller) -> Schedule:
    values = _schedule_values(data, by)
    return await _schedule(
        conn, await SCHEDULES.insert(conn, values, conflict=_name_taken(data.name))
    )


async def update_schedule(conn: AsyncConn, sid: UUID, data: ScheduleWrite, by: Caller) -> Schedule:
    current = await SCHEDULES.get_or_404(conn, sid, by.team)
    values = _schedule_values(data, by)
    if await SCHEDULES.taken(conn, sid, team=values["team"], name=data.name):
        raise Conflict(_name_taken(data.name))
    if values["team"] != current["team"]:
        await _refuse_if_targeted(conn, sid)
    return await _schedule(conn, await SCHEDULES.update(conn, sid, by.team, values))


async def get_schedule(conn: AsyncConn, sid: UUID, by: Caller) -> Schedule:
    return await _schedule(conn, await SCHEDULES.get_or_404(conn, sid, by.team))


async def list_schedules(conn: AsyncConn, by: Caller) -> list[Schedule]:
    return [await _schedule(conn, row) for row in await SCHEDULES.list(conn, by.team)]


async def delete_schedule(conn: AsyncConn, sid: UUID, by: Caller) -> None:
    await SCHEDULES.get_or_404(conn, sid, by.team)
    await _refuse_if_targeted(conn, sid)
    await SCHEDULES.delete(conn, sid, by.team, by=by.name)


async def add_override(conn: AsyncConn, sid: UUID, data: OverrideWrite, by: Caller) -> Override:
    await SCHEDULES.get_or_404(conn, sid, by.team)
    values = data.model_dump() | {"actor": by.name, "on_behalf_of": data.actor}
    return Override(**await repository.insert_override(conn, sid, values))


async def delete_override(conn: AsyncConn, sid: UUID, oid: UUID, by: Caller) -> None:
    if await SCHEDULES.get(conn, sid, by.team) is None or not (
        await repository.delete_override(conn, sid, oid, by=by.name)
    ):
        msg = f"override {oid} of schedule {sid} not found"
        raise NotFound(msg)


async def who_is_on_call(conn: AsyncConn, sid: UUID, at: datetime | None, by: Caller) -> OnCallNow:
    at = at or datetime.now(UTC)
    if not in_range(at):
        raise bad_field("at", f"must be {DATE_RANGE}", source="query")
    row = await SCHEDULES.get_or_404(conn, sid, by.team)
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


@dataclass(frozen=True, slots=True)
class Rota:
    """A schedule as the on-call page shows it: who is on call now, and the next changes."""

    schedule: Schedule
    now: OnCall
    next: list[Handoff]
    broken: str | None = None


async def rotas(conn: AsyncConn, by: Caller, *, at: datetime, count: int = 5) -> list[Rota]:
    """Every schedule the caller sees (its team's, filtered in SQL) with who is on call at
    `at` and the next `count` hand-offs. A schedule that no longer validates is listed
    with the reason instead of failing the whole page."""
    rows = await SCHEDULES.list(conn, by.team)
    # Every schedule's overrides in one query, not one a schedule.
    spans_of: dict[UUID, list[Override]] = {row["id"]: [] for row in rows}
    for o in await repository.overrides_for(conn, list(spans_of)):
        spans_of[o["schedule_id"]].append(Override(**o))
    found = []
    for row in rows:
        schedule = Schedule(**row, overrides=spans_of[row["id"]])
        spans = [
            OverrideSpan(o.person, o.starts_at, o.ends_at, o.created_at) for o in schedule.overrides
        ]
        try:
            layers = [Layer.model_validate(layer) for layer in row["layers"]]
            now = on_call(row["timezone"], layers, spans, at)
            upcoming = next_handoffs(row["timezone"], layers, spans, at, count)
        except (ValueError, OverflowError, KeyError) as exc:
            msg = f"schedule {row['name']!r} has an invalid layer; replace it: {exc}"[:500]
            found.append(Rota(schedule, OnCall(None, "nobody"), [], msg))
            continue
        found.append(Rota(schedule, now, upcoming))
    return found


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
            if sid is None or await SCHEDULES.get(conn, sid, data.team) is None:
                key = f"levels.{i}.targets.{j}.id"
                msg = f"no on-call schedule of team {data.team!r} with id {target.id!r}"
                raise bad_field(key, msg)


def _policy_values(data: PolicyWrite, by: Caller) -> dict[str, Any]:
    return {
        "team": _owner(by, data.team),
        "name": data.name,
        "levels": [level.model_dump(mode="json") for level in data.levels],
        "repeat": data.repeat,
    } | _written_by(by, data.actor)


def _team_has_one(team: str) -> str:
    return f"team {team!r} already has an escalation policy"


async def create_policy(conn: AsyncConn, data: PolicyWrite, by: Caller) -> EscalationPolicy:
    values = _policy_values(data, by)
    await _check_targets(conn, data)
    row = await POLICIES.insert(conn, values, conflict=_team_has_one(data.team))
    return EscalationPolicy.from_row(row)


async def update_policy(
    conn: AsyncConn, pid: UUID, data: PolicyWrite, by: Caller
) -> EscalationPolicy:
    await POLICIES.get_or_404(conn, pid, by.team)
    values = _policy_values(data, by)
    await _check_targets(conn, data)
    if await POLICIES.taken(conn, pid, team=data.team):
        raise Conflict(_team_has_one(data.team))
    return EscalationPolicy.from_row(await POLICIES.update(conn, pid, by.team, values))


async def get_policy(conn: AsyncConn, pid: UUID, by: Caller) -> EscalationPolicy:
    return EscalationPolicy.from_row(await POLICIES.get_or_404(conn, pid, by.team))


async def list_policies(conn: AsyncConn, by: Caller) -> list[EscalationPolicy]:
    return [EscalationPolicy.from_row(r) for r in await POLICIES.list(conn, by.team)]


async def delete_policy(conn: AsyncConn, pid: UUID, by: Caller) -> None:
    await POLICIES.delete(conn, pid, by.team, by=by.name)
