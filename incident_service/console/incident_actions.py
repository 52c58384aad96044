"""The incident page's forms as data: each action is its path under the page, the part of
the page to go back to, and what it does (the form read into the API's request model and
handed to the API's service, with the signed-in principal as the actor, so the service
records who and when exactly as for the API).

`incident_routes` turns each row of `ACTIONS` into a route with one handler factory; a new
action is one function and one row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from litestar.datastructures import State

from incident_service.console.forms import parse
from incident_service.db import AsyncConn
from incident_service.errors import NotFound, bad_field, missing_incident
from incident_service.escalation.manual import escalate_now
from incident_service.escalation.policies import Actor
from incident_service.escalation.schemas import EscalationRequest
from incident_service.incidents import edits
from incident_service.incidents import service as incidents
from incident_service.incidents.schemas import IncidentPatch, StatusUpdateRequest
from incident_service.merge import service as merge
from incident_service.merge.schemas import MergeRequest
from incident_service.notes import service as notes
from incident_service.notes.schemas import NoteCreate
from incident_service.principal import Principal
from incident_service.roles import service as roles
from incident_service.roles.schemas import RoleAssignment
from incident_service.updates import service as updates
from incident_service.updates.schemas import UpdateCreate


@dataclass(frozen=True, slots=True)
class Posted:
    """One posted form: the request's connection (its one transaction), the app's state,
    who acts, on which incident, and the form's fields."""

    conn: AsyncConn
    state: State
    principal: Principal
    incident_id: str
    form: Mapping[str, str]


# Runs the action; answers the page to go to when it is not the incident's own (a merge).
Run = Callable[[Posted], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Action:
    path: str  # under /ui/incidents/{incident_id}
    section: str  # the page's anchor the 303 goes back to
    run: Run


async def change_status(p: Posted) -> None:
    change = parse(StatusUpdateRequest, p.form)
    await incidents.change_status(
        p.conn,
        p.incident_id,
        change,
        actor=p.principal.name,
        scorer=p.state.get("scorer"),
        user_id=p.principal.user_id,
    )


async def change_severity(p: Posted) -> None:
    # The API's patch takes no severity as "no change"; the form always means one.
    if not p.form.get("severity"):
        raise bad_field("severity", "choose a severity")
    await edits.edit_incident(
        p.conn,
        p.incident_id,
        parse(IncidentPatch, p.form),
        principal=p.principal,
        if_match=None,
        scorer=p.state.get("scorer"),
        policies=p.state.get("response_policies"),
    )


async def add_note(p: Posted) -> None:
    await notes.add_note(p.conn, p.incident_id, parse(NoteCreate, p.form), principal=p.principal)


async def post_update(p: Posted) -> None:
    await updates.post(p.conn, p.principal, p.incident_id, parse(UpdateCreate, p.form))


async def escalate(p: Posted) -> None:
    asked = parse(EscalationRequest, p.form)
    await escalate_now(
        p.conn,
        p.state.settings,
        p.incident_id,
        target_level=asked.target_level,
        reason=asked.reason,
        actor=Actor(p.principal.name),
    )


async def assign_role(p: Posted) -> None:
    """Give a role to a member of the team, or take it (`user_id` left out: the person
    signed in)."""
    role = (p.form.get("role") or "").strip()
    if not role:
        raise bad_field("role", "choose a role")
    user_id: object = p.form.get("user_id") or p.principal.user_id
    if user_id is None:
        raise bad_field("user_id", "this key acts for nobody: choose whom to give it to")
    assignment = parse(RoleAssignment, {}, user_id=user_id)
    await roles.assign(p.conn, p.incident_id, role, assignment, p.principal)


async def merge_into(p: Posted) -> str:
    """Merge this incident into the one named (`target_id`): the same as the API's
    POST /api/v1/incidents/{target}/merge with this one as the source; then to the target."""
    target = (p.form.get("target_id") or "").strip()
    if not target:
        raise bad_field("target_id", "name the incident to merge this one into")
    request = parse(
        MergeRequest, {"reason": p.form.get("reason", "")}, source_incident_ids=[p.incident_id]
    )
    try:
        await merge.merge(p.conn, target, request, principal=p.principal)
    except NotFound as missing:
        if missing.message != missing_incident(target).message:
            raise
        # Another team's incident reads exactly as one that is not there.
        raise missing_incident(target, field="target_id") from missing
    return f"/ui/incidents/{target}"


ACTIONS: tuple[Action, ...] = (
    Action("/status", "summary", change_status),
    Action("/severity", "summary", change_severity),
    Action("/notes", "notes", add_note),
    Action("/updates", "updates", post_update),
    Action("/escalate", "escalation", escalate),
    Action("/roles", "roles", assign_role),
    Action("/merge", "summary", merge_into),
)
