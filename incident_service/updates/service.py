"""Stakeholder updates: the rules. Takes a connection, never commits, knows nothing of HTTP.

- An update goes to any incident but a CLOSED one (a final "resolved" update after the
  incident is resolved is the usual last word); its public status defaults to the
  incident's (`PUBLIC_STATUS_OF`). It never moves the incident's own status.
- Its Markdown is rendered with raw HTML escaped and unsafe links refused (`_render`).
- A team's cadence is keyed by the team string; a severity it did not set follows
  `DEFAULT_CADENCE`. A key restricted to a team reads and sets its own team's only.
"""

from __future__ import annotations

from typing import Any

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, found, missing_incident, missing_team
from incident_service.markdown import render as render_markdown
from incident_service.principal import Principal
from incident_service.updates import repository
from incident_service.updates.schemas import (
    DEFAULT_CADENCE,
    PUBLIC_STATUS_OF,
    Author,
    Cadence,
    CadenceWrite,
    PostedUpdate,
    SeverityMinutes,
    StakeholderUpdate,
    UpdateCreate,
)
from incident_service.vocabulary import IncidentSeverity


def defaults() -> dict[str, float | None]:
    return {severity.value: minutes for severity, minutes in DEFAULT_CADENCE.items()}


def _update(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "incident_id": row["incident_id"],
        "status": row["status"],
        "message": row["message"],
        "message_html": render_markdown(row["message"]),
        "severity": row["severity"],
        "incident_status": row["incident_status"],
        "author": Author(name=row["posted_by"], user_id=row["posted_by_user_id"]),
        "posted_at": row["posted_at"],
    }


async def post(
    conn: AsyncConn, principal: Principal, incident_id: str, data: UpdateCreate
) -> PostedUpdate:
    row = await repository.post_update(
        conn,
        {
            "incident_id": incident_id,
            "scope": principal.team,
            "status": None if data.status is None else data.status.value,
            "message": data.message,
            "actor": principal.name,
            "user_id": principal.user_id,
            "defaults": defaults(),
            "public_of": {k.value: v.value for k, v in PUBLIC_STATUS_OF.items()},
        },
    )
    if row is None:
        raise missing_incident(incident_id)
    if row["id"] is None:
        msg = f"incident {incident_id} is {row['current_status']}: it takes no more updates"
        raise Conflict(msg, current_status=row["current_status"])
    return PostedUpdate(**_update(row), next_update_due_at=row["next_update_due_at"])


async def list_updates(
    conn: AsyncConn, principal: Principal, incident_id: str, *, limit: int, before: int | None
) -> list[StakeholderUpdate]:
    rows = await repository.list_updates(
        conn, incident_id, scope=principal.team, limit=limit, before=before
    )
    if rows is None:
        raise missing_incident(incident_id)
    return [StakeholderUpdate(**_update(r)) for r in rows]


def _cadence(row: dict[str, Any]) -> Cadence:
    own: dict[str, float | None] = row["every_minutes"] or {}
    minutes = {
        s.value: own[s.value] if s.value in own else DEFAULT_CADENCE[s] for s in IncidentSeverity
    }
    return Cadence(
        team=row["team"],
        every_minutes=SeverityMinutes(**minutes),
        defaulted=[s for s in IncidentSeverity if s.value not in own],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


async def get_cadence(conn: AsyncConn, principal: Principal, team: str) -> Cadence:
    return _cadence(
        found(await repository.get_cadence(conn, team, scope=principal.team), missing_team(team))
    )


async def put_cadence(
    conn: AsyncConn, principal: Principal, team: str, data: CadenceWrite
) -> Cadence:
    row = await repository.put_cadence(
        conn, team, data.explicit(), scope=principal.team, actor=principal.name
    )
    return _cadence(found(row, missing_team(team)))
