"""The on-call forms read into the API's request models and the items shown back as forms.

A schedule's layers and a policy's levels are numbered rows of one form (`layers.0.name`,
`levels.1.targets`); a blank row is dropped before validation, so the model's row numbers
are moved back to the form's for the messages. `Editor` describes one such item (what
reads it, what writes it, its rows), so `oncall_routes` has one page and one save for both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import pydantic
from litestar import Request

from incident_service.auth.sessions import CSRF_FIELD
from incident_service.db import AsyncConn
from incident_service.errors import IncidentError, ValidationFailed
from incident_service.escalation import policies
from incident_service.escalation.schemas import (
    EscalationPolicy,
    PolicyWrite,
    Schedule,
    ScheduleWrite,
)
from incident_service.principal import Principal

Errors = dict[str, str]
LAYER_FIELDS = ("name", "rotation", "participants", "starts", "handoff_time", "handoff_weekday")


def schema_errors(exc: pydantic.ValidationError) -> Errors:
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


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != CSRF_FIELD}


def utc(value: str) -> str:
    # A datetime-local field has no offset: the form says its times are UTC.
    value = value.strip()
    return f"{value}+00:00" if value and "+" not in value and not value.endswith("Z") else value


def rows(form: Mapping[str, str], prefix: str) -> list[int]:
    """The row numbers `prefix.N.*` present in a form, in order."""
    numbers = {
        int(k.split(".")[1])
        for k in form
        if k.startswith(f"{prefix}.") and k.split(".")[1].isdigit()
    }
    return sorted(n for n in numbers if n < 50)


def filled(form: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> list[int]:
    """The rows `prefix.N` in which any of `fields` holds something."""
    return [
        n
        for n in rows(form, prefix)
        if any(form.get(f"{prefix}.{n}.{f}", "").strip() for f in fields)
    ]


def renumbered(errors: Errors, prefix: str, kept: list[int]) -> Errors:
    """Errors of the model's `prefix.K...` moved to the form's row `kept[K]`."""
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


def _lines(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def _targets(text: str) -> list[dict[str, str]]:
    """One target a line, `type:id` (`person:ann`, `schedule:<id>`, `team:payments`)."""
    found = []
    for line in text.splitlines():
        kind, _, ident = line.strip().partition(":")
        if kind or ident:
            found.append({"type": kind.strip(), "id": ident.strip()})
    return found


def override_body(form: Mapping[str, str]) -> dict[str, str]:
    return {
        "person": form.get("person", ""),
        "starts_at": utc(form.get("starts_at", "")),
        "ends_at": utc(form.get("ends_at", "")),
    }


class Item(Protocol):
    """What a form page needs of the item it edits."""

    @property
    def id(self) -> UUID: ...

    @property
    def team(self) -> str | None: ...


T = TypeVar("T", bound=Item)
W = TypeVar("W", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class Editor(Generic[T, W]):
    """An item edited in a form of numbered rows, read and written by `escalation.policies`."""

    path: str  # under /ui/on-call, before the item's id
    param: str  # the id's path parameter
    template: str
    prefix: str  # of the rows: `layers`, `levels`
    marks: tuple[str, ...]  # a row with none of these filled is blank: no row
    read: Callable[[AsyncConn, UUID, Principal], Awaitable[T]]
    values: Callable[[T], dict[str, str]]  # the item as the form's fields
    body: Callable[[Mapping[str, str], list[int], T], dict[str, Any]]  # form + kept rows
    model: type[W]
    write: Callable[[AsyncConn, UUID, W, Principal], Awaitable[object]]


def _schedule_values(found: Schedule) -> dict[str, str]:
    values = {"name": found.name, "timezone": found.timezone}
    for i, layer in enumerate(found.layers):
        for key, value in layer.items():
            shown = "\n".join(value) if key == "participants" else str(value)
            values[f"layers.{i}.{key}"] = shown[:5] if key == "handoff_time" else shown
    return values


def _schedule_body(form: Mapping[str, str], kept: list[int], current: Schedule) -> dict[str, Any]:
    layers = []
    for i in kept:
        row = {k: form.get(f"layers.{i}.{k}", "").strip() for k in LAYER_FIELDS}
        layer: dict[str, Any] = {k: v for k, v in row.items() if v}
        layer["participants"] = _lines(row["participants"])
        layers.append(layer)
    return {
        "name": form.get("name", ""),
        "timezone": form.get("timezone", ""),
        "layers": layers,
        "team": current.team,
    }


def _policy_values(found: EscalationPolicy) -> dict[str, str]:
    values = {"name": found.name, "repeat": str(found.repeat)}
    for i, level in enumerate(found.levels):
        values[f"levels.{i}.delay_minutes"] = f"{level['delay_minutes']:g}"
        values[f"levels.{i}.targets"] = "\n".join(
            f"{t['type']}:{t['id']}" for t in level["targets"]
        )
    return values


def _policy_body(
    form: Mapping[str, str], kept: list[int], current: EscalationPolicy
) -> dict[str, Any]:
    levels = []
    for i in kept:
        delay = form.get(f"levels.{i}.delay_minutes", "").strip()
        targets = form.get(f"levels.{i}.targets", "").strip()
        levels.append({"delay_minutes": delay, "targets": _targets(targets)})
    return {
        "team": current.team,
        "name": form.get("name", ""),
        "repeat": form.get("repeat", "").strip() or "0",
        "levels": levels,
    }


SCHEDULE: Editor[Schedule, ScheduleWrite] = Editor(
    path="schedules",
    param="schedule_id",
    template="oncall_schedule.html",
    prefix="layers",
    marks=("name", "participants"),
    read=policies.get_schedule,
    values=_schedule_values,
    body=_schedule_body,
    model=ScheduleWrite,
    write=policies.update_schedule,
)
POLICY: Editor[EscalationPolicy, PolicyWrite] = Editor(
    path="policies",
    param="policy_id",
    template="oncall_policy.html",
    prefix="levels",
    marks=("delay_minutes", "targets"),
    read=policies.get_policy,
    values=_policy_values,
    body=_policy_body,
    model=PolicyWrite,
    write=policies.update_policy,
)
