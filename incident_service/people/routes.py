"""HTTP routes of people and teams: `/api/v1/users` and `/api/v1/teams`.

A user's create, list and get are `routing.ConfigController`'s; the rest is written out: a
user changes by PATCH (only the fields sent) and is deactivated rather than deleted, and a
team is addressed by its slug rather than a uuid. Reading needs `incidents:read`; writing
needs `config:write`.
"""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post, put
from litestar.params import JSONBody

from incident_service.people import service
from incident_service.people.schemas import (
    MembershipChange,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    User,
    UserChange,
    UserCreate,
    UserUpdate,
)
from incident_service.routing import ConfigController, ConfigOps, Conn, Id, Me, Summaries, TeamSlug


class UserController(
    ConfigController,
    item="user_id",
    write=UserCreate,
    read=User,
    ops=ConfigOps(
        create=service.create_user,
        list_all=service.list_users,
        get_one=service.get_user,
    ),
    summaries=Summaries(
        create="Create a user (409 when the email is taken)",
        list_all="List users (a team key: its team's members)",
        get_one="Get one user",
    ),
    names={"create": "create_user", "list_all": "list_users", "get_one": "get_user"},
):
    path = "/api/v1/users"
    tags = ["people"]

    @patch("/{user_id:uuid}", summary="Change a user (only the fields sent)")
    async def update_user(
        self, conn: Conn, principal: Me, user_id: Id, data: JSONBody[UserUpdate]
    ) -> User:
        return await service.update_user(conn, user_id, data, principal)

    @delete(
        "/{user_id:uuid}",
        status_code=200,
        summary="Deactivate a user (a soft delete: `deactivated_at`; their keys stop working)",
    )
    async def deactivate_user(self, conn: Conn, principal: Me, user_id: Id) -> User:
        return await service.deactivate_user(conn, user_id, principal)

    @get("/{user_id:uuid}/history", summary="Every change of a user, by whom and when")
    async def user_history(self, conn: Conn, principal: Me, user_id: Id) -> list[UserChange]:
        return await service.user_history(conn, user_id, principal)


class TeamController(Controller):
    path = "/api/v1/teams"
    tags = ["people"]
    opt = {"write_scope": "config:write"}

    @post("/", status_code=201, summary="Create a team (409 when the slug is taken)")
    async def create_team(self, conn: Conn, principal: Me, data: JSONBody[TeamCreate]) -> TeamRead:
        return await service.create_team(conn, data, principal)

    @get("/", summary="List teams with their members (a team key: its own)")
    async def list_teams(self, conn: Conn, principal: Me) -> list[TeamRead]:
        return await service.list_teams(conn, principal)

    @get("/{slug:str}", summary="Get one team with its members")
    async def get_team(self, conn: Conn, principal: Me, slug: TeamSlug) -> TeamRead:
        return await service.get_team(conn, slug, principal)

    @patch("/{slug:str}", summary="Change a team (only the fields sent)")
    async def update_team(
        self, conn: Conn, principal: Me, slug: TeamSlug, data: JSONBody[TeamUpdate]
    ) -> TeamRead:
        return await service.update_team(conn, slug, data, principal)

    @put(
        "/{slug:str}/members/{user_id:uuid}",
        summary="Add a user to a team (a member already is left as is)",
    )
    async def add_member(self, conn: Conn, principal: Me, slug: TeamSlug, user_id: Id) -> TeamRead:
        return await service.add_member(conn, slug, user_id, principal)

    @delete(
        "/{slug:str}/members/{user_id:uuid}",
        status_code=200,
        summary="Remove a user from a team",
    )
    async def remove_member(
        self, conn: Conn, principal: Me, slug: TeamSlug, user_id: Id
    ) -> TeamRead:
        return await service.remove_member(conn, slug, user_id, principal)

    @get(
        "/{slug:str}/members/history",
        summary="Every addition to and removal from the team, by whom and when",
    )
    async def membership_changes(
        self, conn: Conn, principal: Me, slug: TeamSlug
    ) -> list[MembershipChange]:
        return await service.membership_changes(conn, slug, principal)
