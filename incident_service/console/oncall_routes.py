"""The on-call pages: who is on call now in each schedule and the next hand-offs, overrides
added and removed from a form, escalation policies and schedules edited in forms.

Every read and write goes through `escalation.policies`, the API's own services: a team key
sees and changes its team's rows only (filtered in SQL; another team's is a 404 page), and
writes need `config:write` exactly as the API's do (checked here so that a key without it
gets a 403 page, not a JSON body). A form that does not validate is shown again with the
API's messages beside the named fields (422 from the schema, 400/409 from the service).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from pydantic import ValidationError

from incident_service.console.oncall_forms import (
    POLICY,
    SCHEDULE,
    Editor,
    Errors,
    filled,
    form_fields,
    override_body,
    renumbered,
    rows,
    schema_errors,
    service_errors,
)
from incident_service.console.pages import page
from incident_service.errors import IncidentError
from incident_service.escalation import policies
from incident_service.escalation.schemas import OverrideWrite
from incident_service.principal import Principal, Scope
from incident_service.routing import Conn, Id, Me

AnyRequest = Request[Any, Any, Any]
BOARD = "/ui/on-call"
# Every route needs only a readable key: the write scope is checked by the handlers, so
# that its refusal is a page (the guard's would be a JSON body).
_READABLE = {"scope": Scope.INCIDENTS_READ.value}


def _refused(request: AnyRequest, status: int, message: str) -> Template:
    return page(
        request, "oncall_error.html", {"status": status, "message": message}, status_code=status
    )


def _can_write(request: AnyRequest) -> bool:
    principal = request.state.get("principal")
    return isinstance(principal, Principal) and principal.allows(Scope.CONFIG_WRITE)


async def _written(
    request: AnyRequest, principal: Principal, write: Callable[[], Awaitable[Template | None]]
) -> Template | Redirect:
    """`write` for a key with `config:write`, then back to the board; a form it shows again
    stands, and a refusal it raises is a page."""
    if not principal.allows(Scope.CONFIG_WRITE):
        missing = f"this API key lacks the scope {Scope.CONFIG_WRITE.value!r}"
        return _refused(request, 403, missing)
    try:
        again = await write()
    except IncidentError as exc:
        return _refused(request, exc.status_code, exc.message)
    return again or Redirect(BOARD, status_code=303)


def _form_page(
    editor: Editor[Any, Any],
    request: AnyRequest,
    item_id: UUID,
    team: str | None,
    values: Mapping[str, str],
    errors: Errors,
    status: int,
) -> Template:
    present = filled(values, editor.prefix, editor.marks)
    numbered = [*present, max(rows(values, editor.prefix), default=-1) + 1]  # + a blank row
    context: dict[str, Any] = {"action": f"{BOARD}/{editor.path}/{item_id}", "team": team}
    context |= {"values": values, "errors": errors, "rows": numbered}
    context["can_write"] = _can_write(request)
    return page(request, editor.template, context, status_code=status)


def _editing(editor: Editor[Any, Any]) -> list[HTTPRouteHandler]:
    """The page of an item's form and its save."""
    path = f"{BOARD}/{editor.path}/{{{editor.param}:uuid}}"

    # The id is read from the parsed path: its parameter's name is the editor's.
    @get(path, opt=_READABLE, include_in_schema=False)
    async def show(request: AnyRequest, conn: Conn, principal: Me) -> Template:
        try:
            found = await editor.read(conn, request.path_params[editor.param], principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        return _form_page(editor, request, found.id, found.team, editor.values(found), {}, 200)

    @post(path, opt=_READABLE, include_in_schema=False)
    async def save(request: AnyRequest, conn: Conn, principal: Me) -> Template | Redirect:
        item_id: UUID = request.path_params[editor.param]

        async def write() -> Template | None:
            current = await editor.read(conn, item_id, principal)
            form = await form_fields(request)
            kept = filled(form, editor.prefix, editor.marks)  # a blank row is dropped

            def again(errors: Errors, status: int) -> Template:
                errors = renumbered(errors, editor.prefix, kept)
                return _form_page(editor, request, item_id, current.team, form, errors, status)

            try:
                data = editor.model.model_validate(editor.body(form, kept, current))
            except ValidationError as exc:
                return again(schema_errors(exc), 422)
            try:
                await editor.write(conn, item_id, data, principal)
            except IncidentError as exc:
                if exc.status_code in (400, 409):
                    return again(service_errors(exc), exc.status_code)
                raise
            return None

        return await _written(request, principal, write)

    return [show, save]


class OnCallPages(Controller):
    path = BOARD
    include_in_schema = False
    opt = _READABLE

    async def _board(
        self,
        request: AnyRequest,
        conn: Conn,
        principal: Principal,
        *,
        failed: UUID | None = None,
        errors: Errors | None = None,
        values: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        at = datetime.now(UTC)
        context = {
            "at": at,
            "rotas": await policies.rotas(conn, principal, at=at),
            "policies": await policies.list_policies(conn, principal),
            "failed": failed,
            "errors": errors or {},
            "can_write": principal.allows(Scope.CONFIG_WRITE),
            "values": values or {},
        }
        return page(request, "oncall.html", context, status_code=status)

    @get("/")
    async def board(self, request: AnyRequest, conn: Conn, principal: Me) -> Template:
        return await self._board(request, conn, principal)

    @post("/schedules/{schedule_id:uuid}/overrides")
    async def add_override(
        self, request: AnyRequest, conn: Conn, principal: Me, schedule_id: Id
    ) -> Template | Redirect:
        async def write() -> Template | None:
            form = await form_fields(request)
            try:
                data = OverrideWrite.model_validate(override_body(form))
            except ValidationError as exc:
                errors = schema_errors(exc)
                return await self._board(
                    request,
                    conn,
                    principal,
                    failed=schedule_id,
                    errors=errors,
                    values=form,
                    status=422,
                )
            await policies.add_override(conn, schedule_id, data, principal)
            return None

        return await _written(request, principal, write)

    @post("/schedules/{schedule_id:uuid}/overrides/{override_id:uuid}/delete")
    async def remove_override(
        self, request: AnyRequest, conn: Conn, principal: Me, schedule_id: Id, override_id: Id
    ) -> Template | Redirect:
        async def write() -> None:
            await policies.delete_override(conn, schedule_id, override_id, principal)

        return await _written(request, principal, write)


ONCALL_ROUTES: list[ControllerRouterHandler] = [OnCallPages, *_editing(SCHEDULE), *_editing(POLICY)]
