"""The rules of incident roles: which roles an incident has (the built-in ones and its
team's), who may hold them (a member of the incident's team), and the checklist.

The guard has already answered 404 to a team key asking about another team's incident
(any route with an `incident_id`); these functions still 404 an incident that does not
exist. A team's roles are reached through the team (`/api/v1/teams/{slug}/roles`): a team
key sees and defines its own team's only.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import (
    Conflict,
    NotFound,
    bad_field,
    found,
    missing_incident,
    missing_team,
)
from incident_service.principal import Principal
from incident_service.roles import repository
from incident_service.roles.schemas import (
    BUILT_IN,
    ChecklistItem,
    ChecklistTick,
    Holding,
    IncidentRoles,
    Role,
    RoleAssignment,
    RoleCreate,
    RoleUpdate,
)


async def _team_of(conn: AsyncConn, incident_id: str, *, lock: bool = False) -> str:
    return found(
        await repository.incident_team(conn, incident_id, lock=lock), missing_incident(incident_id)
    )


async def _known_role(conn: AsyncConn, slug: str, team: str) -> None:
    if await repository.role(conn, slug, team) is None:
        msg = f"no role {slug!r} for this incident's team (built in: {', '.join(BUILT_IN)})"
        raise bad_field("role", "not a role of this incident's team", summary=msg, source="path")


# --- a team's roles -------------------------------------------------------------------


async def _visible_team(conn: AsyncConn, slug: str, by: Principal) -> None:
    if not by.sees_team(slug) or not await repository.team_exists(conn, slug):
        raise missing_team(slug)


async def list_roles(conn: AsyncConn, team: str, by: Principal) -> list[Role]:
    await _visible_team(conn, team, by)
    return [Role(**r) for r in await repository.roles(conn, team)]


async def create_role(conn: AsyncConn, team: str, request: RoleCreate, by: Principal) -> Role:
    await _visible_team(conn, team, by)
    row = await repository.insert_role(conn, team, request.model_dump() | {"actor": by.name})
    if row is None:
        msg = f"the role {request.slug!r} already exists for team {team!r}"
        raise Conflict(msg, extra=[{"key": "slug", "source": "body", "message": "taken"}])
    return Role(**row)


async def update_role(
    conn: AsyncConn, team: str, slug: str, request: RoleUpdate, by: Principal
) -> Role:
    await _visible_team(conn, team, by)
    values: dict[str, Any] = request.model_dump(include=request.model_fields_set)
    for field in ("name", "instructions", "tasks"):
        if field in values and values[field] is None:
            raise bad_field(field, "must not be null")
    row = await repository.update_role(conn, team, slug, values, by.name)
    if row is None:
        if slug in BUILT_IN:
            msg = f"the built-in role {slug!r} is the same for every team"
            raise Conflict(msg)
        msg = f"team {team!r} has no role {slug!r}"
        raise NotFound(msg)
    return Role(**row)


# --- holders --------------------------------------------------------------------------


async def incident_roles(conn: AsyncConn, incident_id: str) -> IncidentRoles:
    await _team_of(conn, incident_id)
    history = [Holding(**r) for r in await repository.holdings(conn, incident_id)]
    return IncidentRoles(current=[h for h in history if h.relieved_at is None], history=history)


async def assign(
    conn: AsyncConn, incident_id: str, role: str, request: RoleAssignment, by: Principal
) -> Holding:
    """Give `role` to the user, relieving its holder; the holder again changes nothing."""
    team = await _team_of(conn, incident_id, lock=True)
    await _known_role(conn, role, team)
    if not await repository.is_member(conn, team, request.user_id):
        # The same answer whether the user exists elsewhere or not at all.
        msg = f"user {request.user_id} is not an active member of the incident's team"
        raise bad_field("user_id", "not a member of the incident's team", summary=msg)
    for row in await repository.holdings(conn, incident_id):
        if row["role"] == role and row["relieved_at"] is None and row["user_id"] == request.user_id:
            return Holding(**row)
    values = {
        "incident_id": incident_id,
        "team": team,
        "role": role,
        "user_id": request.user_id,
        "actor": by.name,
    }
    return Holding(**await repository.assign(conn, values))


async def relieve(conn: AsyncConn, incident_id: str, role: str, by: Principal) -> None:
    """Relieve the role's holder; nobody holding it changes nothing."""
    team = await _team_of(conn, incident_id, lock=True)
    await _known_role(conn, role, team)
    values = {"incident_id": incident_id, "team": team, "role": role, "actor": by.name}
    await repository.relieve(conn, values)


# --- the checklist --------------------------------------------------------------------


async def checklist(conn: AsyncConn, incident_id: str) -> list[ChecklistItem]:
    await _team_of(conn, incident_id)
    return [ChecklistItem(**r) for r in await repository.checklist(conn, incident_id)]


async def tick(
    conn: AsyncConn, incident_id: str, item_id: int, request: ChecklistTick, by: Principal
) -> ChecklistItem:
    """Tick (or untick) an item, recording who and when; as it already is changes nothing."""
    team = await _team_of(conn, incident_id)
    values = {
        "incident_id": incident_id,
        "team": team,
        "item_id": item_id,
        "done": request.done,
        "actor": by.name,
    }
    row = await repository.tick(conn, values) or await repository.checklist_item(
        conn, incident_id, item_id
    )
    if row is None:
        msg = f"checklist item {item_id} not found on incident {incident_id}"
        raise NotFound(msg)
    return ChecklistItem(**row)


async def held_by(conn: AsyncConn, user_id: UUID, *, team: str | None) -> list[dict[str, Any]]:
    """The roles a person holds now, on the incidents `team` sees (None: every team)."""
    return [dict(r) for r in await repository.held_by(conn, user_id, team)]
