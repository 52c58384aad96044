"""The rules of people and teams, on behalf of the calling key.

A key restricted to team A sees team A and its members only (a user of other teams too
when they are also in team A); another team, or a user outside team A, is a 404 exactly as
a missing one. It creates teams and users for team A only (naming another team is a 403
naming the field, as for every configuration write), and adds to team A only people it
can already see. Every write records who (the principal's name) and when.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import (
    Conflict,
    Forbidden,
    NotFound,
    bad_field,
    found,
    missing_team,
    outside_team,
)
from incident_service.people import repository
from incident_service.people.schemas import (
    Member,
    MembershipChange,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    User,
    UserChange,
    UserCreate,
    UserUpdate,
)
from incident_service.principal import ROLE_SCOPES, Principal, Role, Scope


def _user_missing(user_id: UUID) -> NotFound:
    msg = f"user {user_id} not found"
    return NotFound(msg)


# --- users ----------------------------------------------------------------------------


async def list_users(conn: AsyncConn, by: Principal) -> list[User]:
    return [User(**r) for r in await repository.list_users(conn, by.team)]


async def get_user(conn: AsyncConn, user_id: UUID, by: Principal) -> User:
    row = await repository.get_user(conn, user_id, by.team)
    return User(**found(row, _user_missing(user_id)))


def _check_role_grant(role: Role | None, by: Principal) -> None:
    """Roles are given by an admin only (a role is a grant of scopes)."""
    if role is None or Scope.ADMIN in by.scopes:
        return
    msg = "only a caller with the 'admin' scope may set a user's role"
    raise Forbidden(msg, extra=[{"key": "role", "source": "body", "message": "admin only"}])


async def user_by_email(conn: AsyncConn, email: str, by: Principal) -> User | None:
    """The user with this address (whatever its case) as `by` sees them, or None."""
    row = await repository.user_id_by_email(conn, email)
    if row is None:
        return None
    user = await repository.get_user(conn, row["id"], by.team)
    return None if user is None else User(**user)


async def create_user(conn: AsyncConn, request: UserCreate, by: Principal) -> User:
    _check_role_grant(request.role, by)
    teams = sorted(set(request.teams))
    if by.team is not None:
        if any(t != by.team for t in teams):
            msg = f"this API key may only add users to team {by.team!r}"
            raise outside_team(msg, key="teams")
        teams = [by.team]
    await _check_teams_exist(conn, teams)
    user_id = await repository.insert_user(
        conn,
        request.model_dump(exclude={"teams"})
        | {"actor": by.name, "role": request.role and request.role.value},
    )
    for slug in teams:
        await repository.add_members(conn, slug, [user_id], by.name)
    return await get_user(conn, user_id, by)


async def update_user(conn: AsyncConn, user_id: UUID, request: UserUpdate, by: Principal) -> User:
    values: dict[str, Any] = request.model_dump(include=request.model_fields_set)
    if "role" in values:
        if values["role"] is None:
            raise bad_field("role", "must not be null")
        if Scope.ADMIN not in by.scopes:
            msg = "only a caller with the 'admin' scope may change a user's role"
            raise Forbidden(msg, extra=[{"key": "role", "source": "body", "message": "admin only"}])
        values["role"] = Role(values["role"]).value
    for required in ("name", "time_zone", "active"):
        if required in values and values[required] is None:
            raise bad_field(required, "must not be null")
    changed = await repository.update_user(conn, user_id, by.team, values, by.name)
    if not changed:
        raise _user_missing(user_id)
    if "role" in values:
        scopes = sorted(s.value for s in ROLE_SCOPES[Role(values["role"])])
        await repository.set_console_key_scopes(conn, user_id, scopes)
    return await get_user(conn, user_id, by)


async def deactivate_user(conn: AsyncConn, user_id: UUID, by: Principal) -> User:
    """A soft delete: the user stays (every record naming them still does) with
    `deactivated_at`; they can no longer be assigned or own anything, and the keys acting
    for them stop authenticating. Deactivating again keeps the first time."""
    return await update_user(conn, user_id, UserUpdate(active=False), by)


async def user_history(conn: AsyncConn, user_id: UUID, by: Principal) -> list[UserChange]:
    await get_user(conn, user_id, by)  # 404 for a user the caller does not see
    return [UserChange(**r) for r in await repository.user_changes(conn, user_id)]


async def _check_teams_exist(conn: AsyncConn, slugs: list[str]) -> None:
    missing = sorted(set(slugs) - await repository.existing_teams(conn, slugs))
    if missing:
        msg = f"no such teams: {', '.join(map(repr, missing))}"
        raise bad_field("teams", "names a team that does not exist", summary=msg)


# --- teams ----------------------------------------------------------------------------


async def _read_teams(conn: AsyncConn, rows: list[dict[str, Any]]) -> list[TeamRead]:
    members: dict[str, list[Member]] = {r["slug"]: [] for r in rows}
    for m in await repository.members(conn, list(members)):
        members[m.pop("team")].append(Member(**m))
    return [TeamRead(**r, members=members[r["slug"]]) for r in rows]


async def list_teams(conn: AsyncConn, by: Principal) -> list[TeamRead]:
    return await _read_teams(conn, await repository.list_teams(conn, by.team))


async def get_team(conn: AsyncConn, slug: str, by: Principal) -> TeamRead:
    row = await repository.get_team(conn, slug, by.team)
    return (await _read_teams(conn, [found(row, missing_team(slug))]))[0]


async def _check_policy(conn: AsyncConn, policy_id: UUID | None, slug: str) -> None:
    """A team's default escalation policy is one of its own."""
    if policy_id is None:
        return
    if await repository.policy_team(conn, policy_id) != slug:
        msg = f"escalation policy {policy_id} is not one of team {slug!r}'s"
        raise bad_field("default_escalation_policy_id", "not a policy of this team", summary=msg)


async def _check_visible_users(
    conn: AsyncConn, user_ids: list[UUID], by: Principal, *, field: str = "members"
) -> None:
    unknown = sorted(set(user_ids) - await repository.users_in(conn, user_ids, by.team), key=str)
    if unknown:
        msg = f"no such users: {', '.join(map(str, unknown))}"
        raise bad_field(field, "names a user that does not exist", summary=msg)


async def create_team(conn: AsyncConn, request: TeamCreate, by: Principal) -> TeamRead:
    if not by.sees_team(request.slug):
        msg = f"this API key may only create team {by.team!r}"
        raise outside_team(msg, key="slug")
    await _check_policy(conn, request.default_escalation_policy_id, request.slug)
    await _check_visible_users(conn, request.members, by)
    values = request.model_dump(exclude={"members"}) | {"actor": by.name}
    if not await repository.insert_team(conn, values):
        msg = f"team {request.slug!r} already exists"
        raise Conflict(msg, extra=[{"key": "slug", "source": "body", "message": "taken"}])
    await repository.add_members(conn, request.slug, sorted(set(request.members)), by.name)
    return await get_team(conn, request.slug, by)


async def update_team(conn: AsyncConn, slug: str, request: TeamUpdate, by: Principal) -> TeamRead:
    membership = {"add_members", "remove_members"}
    values: dict[str, Any] = request.model_dump(include=request.model_fields_set - membership)
    if "name" in values and values["name"] is None:
        raise bad_field("name", "must not be null")
    if await repository.get_team(conn, slug, by.team) is None:
        raise missing_team(slug)
    if "default_escalation_policy_id" in values:
        await _check_policy(conn, values["default_escalation_policy_id"], slug)
    added, removed = sorted(set(request.add_members)), sorted(set(request.remove_members))
    both = set(added) & set(removed)
    if both:
        msg = f"users both added and removed: {', '.join(sorted(map(str, both)))}"
        raise bad_field("remove_members", "names a user also in add_members", summary=msg)
    if added:
        await _check_visible_users(conn, added, by, field="add_members")
    if removed:
        await _check_members(conn, slug, removed)
    if values and not await repository.update_team(conn, slug, by.team, values, by.name):
        raise missing_team(slug)
    await repository.add_members(conn, slug, added, by.name)
    for user_id in removed:
        await repository.remove_member(conn, slug, user_id, by.name)
    return await get_team(conn, slug, by)


async def _check_members(conn: AsyncConn, slug: str, user_ids: list[UUID]) -> None:
    current = {m["user_id"] for m in await repository.members(conn, [slug])}
    strangers = sorted(set(user_ids) - current, key=str)
    if strangers:
        msg = f"not members of team {slug!r}: {', '.join(map(str, strangers))}"
        raise bad_field("remove_members", "names a user who is not a member", summary=msg)


async def add_member(conn: AsyncConn, slug: str, user_id: UUID, by: Principal) -> TeamRead:
    """Add a user the caller can see to a team it can see; a member already is left as is."""
    if await repository.get_team(conn, slug, by.team) is None:
        raise missing_team(slug)
    if await repository.get_user(conn, user_id, by.team) is None:
        raise _user_missing(user_id)
    await repository.add_members(conn, slug, [user_id], by.name)
    return await get_team(conn, slug, by)


async def remove_member(conn: AsyncConn, slug: str, user_id: UUID, by: Principal) -> TeamRead:
    """Remove a member (recorded with who and when); 404 for someone not a member."""
    if await repository.get_team(conn, slug, by.team) is None:
        raise missing_team(slug)
    if not await repository.remove_member(conn, slug, user_id, by.name):
        msg = f"user {user_id} is not a member of team {slug!r}"
        raise NotFound(msg)
    return await get_team(conn, slug, by)


async def membership_changes(conn: AsyncConn, slug: str, by: Principal) -> list[MembershipChange]:
    if await repository.get_team(conn, slug, by.team) is None:
        raise missing_team(slug)
    return [MembershipChange(**r) for r in await repository.membership_changes(conn, slug)]
