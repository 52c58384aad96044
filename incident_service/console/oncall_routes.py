"""On-call in the console: who is on call now for each schedule and the next hand-offs,
overrides added and removed, escalation policies and schedules edited in forms.

Writes go through the escalation services with the API's request models (a bad field
shows the API's message next to the form) and need `config:write`, as the API's do. The
services filter by the caller's team: another team's schedule or policy is a 404.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from incident_service.console.forms import parse
from incident_service.console.pages import page
from incident_service.errors import IncidentError, ValidationFailed
from incident_service.escalation import policies
from incident_service.escalation.schemas import OverrideWrite, PolicyWrite, ScheduleWrite
from incident_service.principal import Principal, Scope
from incident_service.routing import Conn

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Me = NamedDependency[Principal]
_WRITE = {"write_scope": Scope.CONFIG_WRITE.value}
HOME = "/ui/on-call"


def _structured(form: dict[str, str], field: str) -> Any:
    """A form's JSON field (a schedule's layers, a policy's levels), or a 400 naming it."""
    text = form.get(field, "")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        error = {"key": field, "message": f"not valid JSON: {exc.msg}", "source": "body"}
        raise ValidationFailed(f"the form is not valid: {field}", [error]) from exc


_LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$")


def _utc(form: dict[str, str], *fields: str) -> dict[str, str]:
    """A browser's date-time field has no offset: the page asks for UTC, so it is UTC."""
    return {k: (v + "Z" if k in fields and _LOCAL_TIME.match(v) else v) for k, v in form.items()}


def _errors(error: IncidentError) -> dict[str, Any]:
    body = error.body()
    fields = body.get("extra") if isinstance(body.get("extra"), list) else []
    return {"error": error.message, "error_fields": fields}


class OnCallPages(Controller):
    path = HOME
    include_in_schema = False

    @get("/")
    async def on_call(self, request: Request[Any, Any, Any], conn: Conn, principal: Me) -> Template:
        return page(
            request,
            "oncall.html",
            {
                "outlooks": await policies.outlooks(conn, principal),
                "policies": await policies.list_policies(conn, principal),
                "can_configure": principal.allows(Scope.CONFIG_WRITE),
            },
        )

    @post("/schedules/{schedule_id:uuid}/overrides", opt=_WRITE, status_code=303)
    async def add_override(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        schedule_id: UUID,
        data: Form,
    ) -> Response[Any]:
        try:
            override = parse(OverrideWrite, _utc(data, "starts_at", "ends_at"))
            await policies.add_override(conn, schedule_id, override, principal)
        except IncidentError as error:
            if error.status_code in (401, 403, 404):
                raise
            await conn.rollback()
            context = {
                "outlooks": await policies.outlooks(conn, principal),
                "policies": await policies.list_policies(conn, principal),
                "can_configure": True,
                "failed_schedule": str(schedule_id),
                **_errors(error),
            }
            return page(request, "oncall.html", context, status_code=error.status_code)
        return Redirect(f"{HOME}#schedule-{schedule_id}", status_code=303)

    @post(
        "/schedules/{schedule_id:uuid}/overrides/{override_id:uuid}/delete",
        opt=_WRITE,
        status_code=303,
    )
    async def remove_override(
        self, conn: Conn, principal: Me, schedule_id: UUID, override_id: UUID
    ) -> Redirect:
        await policies.delete_override(conn, schedule_id, override_id, principal)
        return Redirect(f"{HOME}#schedule-{schedule_id}", status_code=303)

    @get("/schedules/{schedule_id:uuid}")
    async def schedule_form(
        self, request: Request[Any, Any, Any], conn: Conn, principal: Me, schedule_id: UUID
    ) -> Template:
        schedule = await policies.get_schedule(conn, schedule_id, principal)
        values = {
            "name": schedule.name,
            "timezone": schedule.timezone,
            "team": schedule.team or "",
            "layers": json.dumps(schedule.layers, indent=2, default=str),
        }
        return page(request, "oncall_schedule.html", {"schedule": schedule, "values": values})

    @post("/schedules/{schedule_id:uuid}", opt=_WRITE, status_code=303)
    async def save_schedule(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        schedule_id: UUID,
        data: Form,
    ) -> Response[Any]:
        schedule = await policies.get_schedule(conn, schedule_id, principal)
        try:
            written = parse(
                ScheduleWrite,
                {k: data.get(k, "") for k in ("name", "timezone", "team")},
                layers=_structured(data, "layers"),
            )
            await policies.update_schedule(conn, schedule_id, written, principal)
        except IncidentError as error:
            if error.status_code in (401, 403, 404):
                raise
            await conn.rollback()
            context = {"schedule": schedule, "values": data, **_errors(error)}
            return page(request, "oncall_schedule.html", context, status_code=error.status_code)
        return Redirect(f"{HOME}#schedule-{schedule_id}", status_code=303)

    @get("/policies/{policy_id:uuid}")
    async def policy_form(
        self, request: Request[Any, Any, Any], conn: Conn, principal: Me, policy_id: UUID
    ) -> Template:
        policy = await policies.get_policy(conn, policy_id, principal)
        values = {
            "name": policy.name,
            "team": policy.team,
            "repeat": str(policy.repeat),
            "levels": json.dumps(policy.levels, indent=2, default=str),
        }
        return page(request, "oncall_policy.html", {"policy": policy, "values": values})

    @post("/policies/{policy_id:uuid}", opt=_WRITE, status_code=303)
    async def save_policy(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Me,
        policy_id: UUID,
        data: Form,
    ) -> Response[Any]:
        policy = await policies.get_policy(conn, policy_id, principal)
        try:
            written = parse(
                PolicyWrite,
                {k: data.get(k, "") for k in ("name", "team", "repeat")},
                levels=_structured(data, "levels"),
            )
            await policies.update_policy(conn, policy_id, written, principal)
        except IncidentError as error:
            if error.status_code in (401, 403, 404):
                raise
            await conn.rollback()
            context = {"policy": policy, "values": data, **_errors(error)}
            return page(request, "oncall_policy.html", context, status_code=error.status_code)
        return Redirect(f"{HOME}#policy-{policy_id}", status_code=303)
