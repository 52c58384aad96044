"""Admin API for keys: `/api/v1/api-keys` (scope `admin`).

A team-restricted admin key manages its own team's keys only, and mints keys no wider than
itself (`service.check_grant`)."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import JSONBody

from incident_service.auth import service
from incident_service.auth.schemas import ApiKey, ApiKeyCreate, Caller, CreatedApiKey, Scope
from incident_service.routing import Conn, Id, Me


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api-keys"]
    opt = {"scope": Scope.ADMIN.value}

    @post("/", status_code=201, summary="Create a key (shown once in the answer)")
    async def create_key(
        self,
        conn: Conn,
        principal: Me,
        data: JSONBody[ApiKeyCreate],
    ) -> CreatedApiKey:
        return await service.create_key(conn, data, actor=principal.name, by=principal)

    @get("/", summary="List keys (prefixes only, never the keys)")
    async def list_keys(self, conn: Conn, principal: Me) -> list[ApiKey]:
        return await service.list_keys(conn, team=principal.team)

    @delete("/{key_id:uuid}", status_code=200, summary="Revoke a key")
    async def revoke_key(
        self,
        conn: Conn,
        principal: Me,
        key_id: Id,
    ) -> ApiKey:
        return await service.revoke_key(conn, key_id, principal)


class MeController(Controller):
    """`GET /api/v1/me`: any valid key may ask who it is, whatever its scopes."""

    path = "/api/v1/me"
    tags = ["api-keys"]
    opt = {"any_scope": True}

    @get("/", summary="The calling key: its team scope, scopes and the user it acts for")
    async def me(self, conn: Conn, principal: Me) -> Caller:
        return await service.whoami(conn, principal)
