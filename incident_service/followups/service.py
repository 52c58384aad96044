"""The follow-up rules: who may own one, which state may follow which, what is overdue.

Takes a connection inside the caller's transaction and never commits; knows nothing of
HTTP. Team restriction: every read is filtered by the caller's team in the SQL, and
another team's follow-up is answered as a missing one.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from incident_service.crud import Page, newest_first
from incident_service.db import AsyncConn
from incident_service.errors import NotFound, bad_field, found, missing_incident
from incident_service.followups import repository
from incident_service.followups.lifecycle import FollowUpState, check_move
from incident_service.followups.schemas import (
    FollowUp,
    FollowUpCreate,
    FollowUpUpdate,
    due_columns,
)


async def _check_owner(conn: AsyncConn, owner_id: UUID | None) -> None:
    if owner_id is not None and not await repository.user_exists(conn, owner_id):
        msg = f"owner_id {owner_id} is not an active user"
        raise bad_field("owner_id", "no active user has this id", summary=msg)


async def create(
    conn: AsyncConn, incident_id: str, request: FollowUpCreate, *, actor: str
) -> FollowUp:
    await _check_owner(conn, request.owner_id)
    row = await repository.insert(
        conn,
        {
            "incident_id": incident_id,
            "title": request.title,
            "owner_id": request.owner_id,
            "priority": request.priority.value,
            "actor": actor,
            **due_columns(request.due),
        },
    )
    return FollowUp.from_row(found(row, missing_incident(incident_id)))


async def of_incident(conn: AsyncConn, incident_id: str, *, team: str | None) -> list[FollowUp]:
    """The incident's follow-ups; 404 for an incident that is not there for `team` (the
    caller's, None for every team), decided in the same SQL as the rows."""
    rows = await repository.of_incident(conn, incident_id, team)
    if not rows and not await repository.incident_exists(conn, incident_id, team):
        raise missing_incident(incident_id)
    return [FollowUp.from_row(r) for r in rows]


def _missing(follow_up_id: UUID) -> NotFound:
    # Another team's follow-up is answered exactly as one that does not exist.
    msg = f"follow-up {follow_up_id} not found"
    return NotFound(msg)


async def _locked(conn: AsyncConn, follow_up_id: UUID, team: str | None) -> dict[str, Any]:
    return found(
        await repository.get(conn, follow_up_id, team, for_update=True), _missing(follow_up_id)
    )


async def get(conn: AsyncConn, follow_up_id: UUID, team: str | None) -> FollowUp:
    return FollowUp.from_row(
        found(await repository.get(conn, follow_up_id, team), _missing(follow_up_id))
    )


async def update(
    conn: AsyncConn,
    follow_up_id: UUID,
    request: FollowUpUpdate,
    *,
    actor: str,
    team: str | None,
) -> FollowUp:
    """Change what was sent; a state move must be in the lifecycle table (409 naming the
    allowed moves). Nothing changed: nothing recorded."""
    row = await _locked(conn, follow_up_id, team)
    sent = request.model_fields_set
    for required in ("title", "priority", "state"):
        if required in sent and getattr(request, required) is None:
            raise bad_field(required, "must not be null")
    changes: dict[str, Any] = {}
    if "title" in sent and request.title != row["title"]:
        changes["title"] = request.title
    if "owner_id" in sent and request.owner_id != row["owner_id"]:
        await _check_owner(conn, request.owner_id)
        changes["owner_id"] = request.owner_id
    if "due" in sent:
        due = due_columns(request.due)
        if (due["due_date"], due["due_at"]) != (row["due_date"], row["due_at"]):
            changes.update(due)
    if request.priority is not None and request.priority.value != row["priority"]:
        changes["priority"] = request.priority.value
    if request.state is not None and request.state.value != row["state"]:
        check_move(str(follow_up_id), FollowUpState(row["state"]), request.state)
        changes["state"] = request.state.value
    if not changes:
        return FollowUp.from_row(row)
    return FollowUp.from_row(await repository.update(conn, row, changes, actor=actor))


async def close_from_tracker(
    conn: AsyncConn, follow_up_id: UUID, *, actor: str, remote_status: str, note: str
) -> bool:
    """Done, because its issue in a tracker is done; False when it is no longer to do
    (closed or withdrawn meanwhile) or gone."""
    row = await repository.get(conn, follow_up_id, None, for_update=True)
    if row is None or FollowUpState(row["state"]) not in (
        FollowUpState.OPEN,
        FollowUpState.IN_PROGRESS,
    ):
        return False
    changes = {"state": FollowUpState.DONE.value, "external_status": remote_status}
    await repository.update(conn, row, changes, actor=actor, note=note)
    return True


async def search(
    conn: AsyncConn, *, filters: dict[str, Any], cursor: str | None, limit: int
) -> Page[FollowUp]:
    read = partial(repository.search, conn, filters=filters)
    return await newest_first(read, cursor, limit, FollowUp.from_row)
