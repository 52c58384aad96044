"""The on-call pages: who is on call now in each schedule and the next hand-offs, overrides
added and removed from a form, escalation policies and schedules edited in forms.

Every read and write goes through `escalation.policies`, the API's own services: a team key
sees and changes its team's rows only (filtered in SQL; another team's is a 404 page), and
writes need `config:write` exactly as the API's do (checked here so that a key without it
gets a 403 page, not a JSON body). A form that does not validate is shown again with the
API's messages beside the named fields (422 from the schema, 400/409 from the service).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from pydantic import ValidationError

from incident_service.console.pages import page
from incident_service.errors import IncidentError, ValidationFailed
from incident_service.escalation import policies
from incident_service.escalation.schemas import OverrideWrite, PolicyWrite, ScheduleWrite
from incident_service.principal import Principal, Scope
from incident_service.routing import Conn, Id

Me = NamedDependency[Principal]
AnyRequest = Request[Any, Any, Any]
Errors = dict[str, str]
BOARD = "/ui/on-call"


def schema_errors(exc: ValidationError) -> Errors:
    """A schema's errors keyed as the API names them (`levels.0.delay_minutes`)."""
    found: Errors = {}
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        found.setdefault(key, str(error["msg"]).split(" - ", maxsplit=1)[0])
    return found


def service_errors(exc: IncidentError) -> Errors:
    """A service's refusal: its named fields, else its message for the whole form."""
    named = exc.extra.get("extra") if isinstance(exc, ValidationFailed) else None
    if named:
        return {e["key"]: e["message"] for e in named}
    return {"": exc.message}


def _refused(request: AnyRequest, status: int, message: str) -> Template:
    return page(
        request, "oncall_error.html", {"status": status, "message": message}, status_code=status
    )


def _can_write(request: AnyRequest) -> bool:
    principal = request.state.get("principal")
    return isinstance(principal, Principal) and principal.allows(Scope.CONFIG_WRITE)


def _may_write(request: AnyRequest, principal: Principal) -> Template | None:
    if principal.allows(Scope.CONFIG_WRITE):
        return None
    return _refused(request, 403, f"this API key lacks the scope {Scope.CONFIG_WRITE.value!r}")


async def _form(request: AnyRequest) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != "_csrf_token"}


def _lines(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def _rows(form: Mapping[str, str], prefix: str) -> list[int]:
    """The row numbers `prefix.N.*` present in a form, in order."""
    numbers = {
        int(k.split(".")[1])
        for k in form
        if k.startswith(f"{prefix}.") and k.split(".")[1].isdigit()
    }
    return sorted(n for n in numbers if n < 50)


def _renumbered(errors: Errors, prefix: str, kept: list[int]) -> Errors:
    """Errors of the model's `prefix.K...` moved to the form's row `kept[K]` (blank rows
    are dropped before validation, so the model's numbering can differ from the form's)."""
    moved: Errors = {}
    for key, message in errors.items():
        parts = key.split(".")
        if (
            len(parts) > 1
            and parts[0] == prefix
            and parts[1].isdigit()
            and int(parts[1]) < len(kept)
        ):
            parts[1] = str(kept[int(parts[1])])
        moved[".".join(parts)] = message
    return moved


def _filled(form: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> list[int]:
    """The rows `prefix.N` in which any of `fields` holds something."""
    return [
        n
        for n in _rows(form, prefix)
        if any(form.get(f"{prefix}.{n}.{f}", "").strip() for f in fields)
    ]


def _utc(value: str) -> str:
    # A datetime-local field has no offset: the form says its times are UTC.
    value = value.strip()
    return f"{value}+00:00" if value and "+" not in value and not value.endswith("Z") else value


class OnCallPages(Controller):
    path = BOARD
    include_in_schema = False
    # Every method needs only a readable key here: the write scope is checked by the
    # handlers, so that its refusal is a page (the guard's would be a JSON body).
    opt = {"scope": Scope.INCIDENTS_READ.value}

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
        if (refused := _may_write(request, principal)) is not None:
            return refused
        form = await _form(request)
        body = {
            "person": form.get("person", ""),
            "starts_at": _utc(form.get("starts_at", "")),
            "ends_at": _utc(form.get("ends_at", "")),
        }
        try:
            data = OverrideWrite.model_validate(body)
        except ValidationError as exc:
            return await self._board(
                request,
                conn,
                principal,
                failed=schedule_id,
                errors=schema_errors(exc),
                values=form,
                status=422,
            )
        try:
            await policies.add_override(conn, schedule_id, data, principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        return Redirect(BOARD, status_code=303)

    @post("/schedules/{schedule_id:uuid}/overrides/{override_id:uuid}/delete")
    async def remove_override(
        self, request: AnyRequest, conn: Conn, principal: Me, schedule_id: Id, override_id: Id
    ) -> Template | Redirect:
        if (refused := _may_write(request, principal)) is not None:
            return refused
        try:
            await policies.delete_override(conn, schedule_id, override_id, principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        return Redirect(BOARD, status_code=303)

    # --- schedules ---------------------------------------------------------------------

    @get("/schedules/{schedule_id:uuid}")
    async def schedule(
        self, request: AnyRequest, conn: Conn, principal: Me, schedule_id: Id
    ) -> Template:
        try:
            found = await policies.get_schedule(conn, schedule_id, principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        values = {"name": found.name, "timezone": found.timezone}
        for i, layer in enumerate(found.layers):
            for key, value in layer.items():
                shown = "\n".join(value) if key == "participants" else str(value)
                values[f"layers.{i}.{key}"] = shown[:5] if key == "handoff_time" else shown
        return self._schedule_form(request, found.id, found.team, values, {}, 200)

    def _schedule_form(
        self,
        request: AnyRequest,
        sid: UUID,
        team: str | None,
        values: Mapping[str, str],
        errors: Errors,
        status: int,
    ) -> Template:
        present = _filled(values, "layers", ("name", "participants"))
        rows = [*present, max(_rows(values, "layers"), default=-1) + 1]
        context: dict[str, Any] = {"sid": sid, "team": team, "values": values}
        context |= {"errors": errors, "rows": rows, "can_write": _can_write(request)}
        return page(request, "oncall_schedule.html", context, status_code=status)

    @post("/schedules/{schedule_id:uuid}")
    async def save_schedule(
        self, request: AnyRequest, conn: Conn, principal: Me, schedule_id: Id
    ) -> Template | Redirect:
        if (refused := _may_write(request, principal)) is not None:
            return refused
        try:
            current = await policies.get_schedule(conn, schedule_id, principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        form = await _form(request)
        layers = []
        kept = _filled(form, "layers", ("name", "participants"))  # a blank row is no layer
        for i in kept:
            row = {k: form.get(f"layers.{i}.{k}", "").strip() for k in LAYER_FIELDS}
            layer: dict[str, Any] = {k: v for k, v in row.items() if v}
            layer["participants"] = _lines(row["participants"])
            layers.append(layer)
        body = {
            "name": form.get("name", ""),
            "timezone": form.get("timezone", ""),
            "layers": layers,
            "team": current.team,
        }

        def again(errors: Errors, status: int) -> Template:
            errors = _renumbered(errors, "layers", kept)
            return self._schedule_form(request, schedule_id, current.team, form, errors, status)

        try:
            data = ScheduleWrite.model_validate(body)
        except ValidationError as exc:
            return again(schema_errors(exc), 422)
        try:
            await policies.update_schedule(conn, schedule_id, data, principal)
        except IncidentError as exc:
            if exc.status_code in (400, 409):
                return again(service_errors(exc), exc.status_code)
            return _refused(request, exc.status_code, exc.message)
        return Redirect(BOARD, status_code=303)

    # --- escalation policies -----------------------------------------------------------

    @get("/policies/{policy_id:uuid}")
    async def policy(
        self, request: AnyRequest, conn: Conn, principal: Me, policy_id: Id
    ) -> Template:
        try:
            found = await policies.get_policy(conn, policy_id, principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        values = {"name": found.name, "repeat": str(found.repeat)}
        for i, level in enumerate(found.levels):
            values[f"levels.{i}.delay_minutes"] = f"{level['delay_minutes']:g}"
            values[f"levels.{i}.targets"] = "\n".join(
                f"{t['type']}:{t['id']}" for t in level["targets"]
            )
        return self._policy_form(request, found.id, found.team, values, {}, 200)

    def _policy_form(
        self,
        request: AnyRequest,
        pid: UUID,
        team: str,
        values: Mapping[str, str],
        errors: Errors,
        status: int,
    ) -> Template:
        present = _filled(values, "levels", ("delay_minutes", "targets"))
        rows = [*present, max(_rows(values, "levels"), default=-1) + 1]
        context: dict[str, Any] = {"pid": pid, "team": team, "values": values}
        context |= {"errors": errors, "rows": rows, "can_write": _can_write(request)}
        return page(request, "oncall_policy.html", context, status_code=status)

    @post("/policies/{policy_id:uuid}")
    async def save_policy(
        self, request: AnyRequest, conn: Conn, principal: Me, policy_id: Id
    ) -> Template | Redirect:
        if (refused := _may_write(request, principal)) is not None:
            return refused
        try:
            current = await policies.get_policy(conn, policy_id, principal)
        except IncidentError as exc:
            return _refused(request, exc.status_code, exc.message)
        form = await _form(request)
        levels = []
        kept = _filled(form, "levels", ("delay_minutes", "targets"))  # a blank row is no level
        for i in kept:
            delay = form.get(f"levels.{i}.delay_minutes", "").strip()
            targets = form.get(f"levels.{i}.targets", "").strip()
            levels.append({"delay_minutes": delay, "targets": _targets(targets)})
        body = {
            "team": current.team,
            "name": form.get("name", ""),
            "repeat": form.get("repeat", "").strip() or "0",
            "levels": levels,
        }

        def again(errors: Errors, status: int) -> Template:
            errors = _renumbered(errors, "levels", kept)
            return self._policy_form(request, policy_id, current.team, form, errors, status)

        try:
            data = PolicyWrite.model_validate(body)
        except ValidationError as exc:
            return again(schema_errors(exc), 422)
        try:
            await policies.update_policy(conn, policy_id, data, principal)
        except IncidentError as exc:
            if exc.status_code in (400, 409):
                return again(service_errors(exc), exc.status_code)
            return _refused(request, exc.status_code, exc.message)
        return Redirect(BOARD, status_code=303)


LAYER_FIELDS = ("name", "rotation", "participants", "starts", "handoff_time", "handoff_weekday")


def _targets(text: str) -> list[dict[str, str]]:
    """One target a line, `type:id` (`person:ann`, `schedule:<id>`, `team:payments`)."""
    found = []
    for line in text.splitlines():
        kind, _, ident = line.strip().partition(":")
        if kind or ident:
            found.append({"type": kind.strip(), "id": ident.strip()})
    return found
