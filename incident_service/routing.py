"""What route handlers share: the types they declare (the request's connection, one
transaction, see `db.transaction`; the authenticated principal; a resource's uuid in the
path), the routes every configuration resource has, and the base of inbound routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from incident_service.crud import Page
from incident_service.db import AsyncConn
from incident_service.principal import Principal

Conn = NamedDependency[AsyncConn]
Me = NamedDependency[Principal]
Id = Annotated[UUID, PathParameter()]
IncidentId = Annotated[str, PathParameter(max_length=100, description="e.g. INC-20250621-001")]
TeamSlug = Annotated[str, PathParameter(min_length=1, max_length=100, description="e.g. payments")]
# A bigint serial's id (a note, a link, a checklist item): past it, a 404 rather than a 500.
RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
# The query of a keyset-paged list: how many rows at the most, and where the last page ended.
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Cursor = Annotated[str | None, QueryParameter(max_length=200)]
T = TypeVar("T")
W = TypeVar("W")
R = TypeVar("R")


def paged(request: Request[Any, Any, Any], path: str, page: Page[T]) -> Response[list[T]]:
    """The answer of a page of a list: its items and, when there is a next page, a `Link`
    with `rel="next"` to `path` with the request's own query and the next cursor. The URL
    starts at the configured public URL, else it is relative: never the client's Host."""
    if page.next_cursor is None:
        return Response(page.items)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    query.append(("cursor", page.next_cursor))
    public = (request.app.state.settings.public_url or "").rstrip("/")
    return Response(
        page.items, headers={"Link": f'<{public}{path}?{urlencode(query)}>; rel="next"'}
    )


class InboundController(Controller):
    """Routes that senders outside (alert sources, vendors' webhooks) call: authenticated
    by the integration's key in the path or body, or by the request's signature, checked
    by the handler, never by an API key (`auth.guard`)."""

    opt = {"auth": "integration"}


@dataclass(frozen=True, slots=True)
class ConfigOps(Generic[W, R]):
    """What a configuration resource does, on behalf of the calling key. An operation left
    out (None) has no generated route: the controller writes its own, or has none."""

    create: Callable[[AsyncConn, W, Principal], Awaitable[R]] | None = None
    list_all: Callable[[AsyncConn, Principal], Awaitable[list[R]]] | None = None
    get_one: Callable[[AsyncConn, UUID, Principal], Awaitable[R]] | None = None
    replace: Callable[[AsyncConn, UUID, W, Principal], Awaitable[R]] | None = None
    remove: Callable[[AsyncConn, UUID, Principal], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Summaries:
    """How the OpenAPI document describes each generated route."""

    create: str = ""
    list_all: str = ""
    get_one: str = ""
    replace: str = ""
    remove: str = ""


class ConfigController(Controller):
    """The routes a configuration resource has: create and list at the controller's
    `path`, and get, replace and delete at `path/{item}` (a uuid), one for each operation
    of its `ops`. Every route acts for the calling key (its team restriction, its name as
    the actor); writes need the `config:write` scope. A subclass names its resource's types
    and operations in its class keywords (`names`: its handlers' names, when not the
    operations'), and may add routes of its own:

        class ScheduleController(ConfigController, item="schedule_id", write=..., ...):
            path = "/api/v1/oncall-schedules"
    """

    opt = {"write_scope": "config:write"}

    def __init_subclass__(
        cls,
        *,
        item: str,
        write: type[W],
        read: type[R],
        ops: ConfigOps[W, R],
        summaries: Summaries,
        names: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        one = f"/{{{item}:uuid}}"

        def row_id(request: Request[Any, Any, Any]) -> UUID:
            value: UUID = request.path_params[item]
            return value

        # Each route's handler function, and the decorator making it a route.
        routes: dict[Callable[..., Any], Callable[[Any], Any]] = {}
        if (create_op := ops.create) is not None:

            async def create(self: Controller, conn: Conn, principal: Me, data: JSONBody[W]) -> R:
                return await create_op(conn, data, principal)

            routes[create] = post("/", summary=summaries.create)
        if (list_op := ops.list_all) is not None:

            async def list_all(self: Controller, conn: Conn, principal: Me) -> list[R]:
                return await list_op(conn, principal)

            routes[list_all] = get("/", summary=summaries.list_all)
        if (get_op := ops.get_one) is not None:

            async def get_one(
                self: Controller, request: Request[Any, Any, Any], conn: Conn, principal: Me
            ) -> R:
                return await get_op(conn, row_id(request), principal)

            routes[get_one] = get(one, summary=summaries.get_one)
        if (replace_op := ops.replace) is not None:

            async def replace(
                self: Controller,
                request: Request[Any, Any, Any],
                conn: Conn,
                principal: Me,
                data: JSONBody[W],
            ) -> R:
                return await replace_op(conn, row_id(request), data, principal)

            routes[replace] = put(one, summary=summaries.replace)
        if (remove_op := ops.remove) is not None:

            async def remove(
                self: Controller, request: Request[Any, Any, Any], conn: Conn, principal: Me
            ) -> None:
                await remove_op(conn, row_id(request), principal)

            routes[remove] = delete(one, summary=summaries.remove)
        for fn, route in routes.items():
            # The handler's name is in the OpenAPI document (operationId): `names` keeps a
            # resource's own, e.g. "list_users" for `list_all`.
            fn.__name__ = fn.__qualname__ = (names or {}).get(fn.__name__, fn.__name__)
            setattr(cls, fn.__name__, route(fn))
        # The handlers' annotations W and R stand for the resource's own types.
        # (Controller keeps its settings in slots: a subclass's own are in its __dict__.)
        own = cls.__dict__.get("signature_namespace", {})
        cls.signature_namespace = {**own, "W": write, "R": read}
