"""The incident rules: creation (with idempotent replay), status moves, lookups.

Takes a connection inside the caller's transaction and never commits; knows nothing of HTTP.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

from incident_service.crud import Page, newest_first
from incident_service.db import AsyncConn
from incident_service.errors import (
    IdempotencyMismatch,
    InvalidTransition,
    found,
    missing_incident,
)
from incident_service.incidents import repository
from incident_service.incidents.edits import check_version, parse_if_match
from incident_service.incidents.lifecycle import ALLOWED, allowed_from, is_reopen
from incident_service.incidents.schemas import (
    Incident,
    IncidentCreationRequest,
    IntegrationLink,
    StatusUpdateRequest,
    TimelineEntry,
)
from incident_service.outbound import safe_url
from incident_service.predictions.scorer import Scorer
from incident_service.responses import service as responses
from incident_service.responses.policies import PolicyFile
from incident_service.vocabulary import IncidentStatus

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Created:
    incident: Incident
    replayed: bool


async def create_incident(
    conn: AsyncConn,
    request: IncidentCreationRequest,
    *,
    actor: str = ANONYMOUS,
    idempotency_key: str | None = None,
    api_key_id: UUID | None = None,
    policies: PolicyFile | None = None,
    scorer: Scorer | None = None,
) -> Created:
    """Open an incident. With an idempotency key, a repeat of the same request returns the
    incident the first one created; the same key with a different body is a conflict.
    Idempotency keys are scoped to `api_key_id`, the API key that sent them.

    The actions the response `policies` choose are written in the same statement, so the
    worker finds them even if it was down when the incident was created. With a `scorer`
    holding an active model, the incident is scored first (in this process, NumPy only) and
    the policies can read its predictions (`predicted.*`)."""
    values = request.model_dump(mode="json") | {"actor": actor}
    now = datetime.now(UTC)
    predicted = (
        scorer.score(values | {"created_by": actor, "created_at": now}, trigger="created", now=now)
        if scorer is not None
        else None
    )
    values |= responses.plan(policies, request, predicted) | {"predictions": predicted}
    if idempotency_key is None:
        return Created(Incident.from_row(await repository.insert_incident(conn, values)), False)

    request_hash = hashlib.sha256(
        json.dumps(request.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    if await repository.claim_idempotency_key(conn, idempotency_key, request_hash, api_key_id):
        row = await repository.insert_incident(conn, values)
        await repository.bind_idempotency_key(conn, idempotency_key, row["incident_id"], api_key_id)
        return Created(Incident.from_row(row), False)

    seen = await repository.get_idempotency_key(conn, idempotency_key, api_key_id)
    assert seen is not None and seen["incident_id"] is not None  # committed by its owner
    if seen["request_hash"] != request_hash:
        msg = "this Idempotency-Key was already used with a different request body"
        raise IdempotencyMismatch(msg, incident_id=seen["incident_id"])
    return Created(await get_incident(conn, seen["incident_id"]), True)


async def get_incident(conn: AsyncConn, incident_id: str) -> Incident:
    return Incident.from_row(
        found(await repository.get_incident(conn, incident_id), missing_incident(incident_id))
    )


async def change_status(
    conn: AsyncConn,
    incident_id: str,
    request: StatusUpdateRequest,
    *,
    actor: str,
    scorer: Scorer | None = None,
    if_match: str | None = None,
    user_id: UUID | None = None,
) -> Incident:
    """Move an incident along the lifecycle table, recording who, when, from, to and why.
    `user_id`: the person acting (the key's user), made commander on acknowledgement.

    The same status again changes nothing; a note sent with it is recorded on its own.
    With `if_match` (an If-Match header), a version other than the current one is a 412.
    """
    row = found(
        await repository.get_incident(conn, incident_id, for_update=True),
        missing_incident(incident_id),
    )
    check_version(row, parse_if_match(if_match))
    current = IncidentStatus(row["status"])
    target = request.status
    if target is current:
        if request.note:
            await repository.add_note(
                conn,
                {
                    "incident_id": incident_id,
                    "actor": actor,
                    "note": request.note,
                    "status": current.value,
                    "on_behalf_of": request.actor,
                },
            )
        return Incident.from_row(row)
    if target not in ALLOWED[current]:
        allowed = [s.value for s in allowed_from(current)]
        msg = f"cannot move incident {incident_id} from {current.value} to {target.value}"
        raise InvalidTransition(
            msg, current_status=current.value, requested_status=target.value, allowed=allowed
        )
    changed = await repository.change_status(
        conn,
        {
            "incident_id": incident_id,
            "from": current.value,
            "to": target.value,
            "reopen": is_reopen(current, target),
            "actor": actor,
            "on_behalf_of": request.actor,
            "note": request.note,
            "user_id": user_id,
            # Re-scored on every status change: the expected remaining time moves on.
            "predictions": scorer.score(row, trigger=target.value) if scorer else None,
        },
    )
    return Incident.from_row(changed)


async def integration_links(conn: AsyncConn, incident_id: str) -> list[IntegrationLink]:
    """The incident's records in vendor systems, their URLs fit to show."""
    return [
        IntegrationLink(
            system=r["system"],
            integration_id=str(r["integration_id"]),
            remote_id=r["remote_id"],
            remote_key=r["remote_key"],
            remote_url=safe_url(r["remote_url"]),
            remote_status=r["remote_status"],
            last_synced_at=r["last_synced_at"],
        )
        for r in await repository.integration_links(conn, incident_id)
    ]


async def timeline(conn: AsyncConn, incident_id: str) -> list[TimelineEntry]:
    await get_incident(conn, incident_id)  # 404 for an unknown incident, not an empty list
    return [TimelineEntry(**row) for row in await repository.timeline(conn, incident_id)]


async def list_incidents(
    conn: AsyncConn, *, filters: dict[str, Any], cursor: str | None, limit: int
) -> Page[Incident]:
    read = partial(repository.list_incidents, conn, filters=filters)
    return await newest_first(read, cursor, limit, Incident.from_row)
