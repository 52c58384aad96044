"""The merge rules: which incidents may be folded into which, checked before any write.

A merge is all or nothing: every source is checked first, and the one statement that
moves them all runs only when every check passed. Takes a connection inside the caller's
transaction and never commits; knows nothing of HTTP.
"""

from __future__ import annotations

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, missing_incident
from incident_service.incidents import service as incidents
from incident_service.incidents.lifecycle import ACTIVE
from incident_service.merge import repository
from incident_service.merge.schemas import MergeRequest, MergeResult
from incident_service.principal import Principal
from incident_service.vocabulary import IncidentStatus

FIELD = "source_incident_ids"


async def merge(
    conn: AsyncConn, target_id: str, request: MergeRequest, *, principal: Principal
) -> MergeResult:
    """Fold the request's sources into `target_id`.

    404: the target, or a source, does not exist or is of a team the key cannot see.
    409: the target is one of the sources or is not active (RESOLVED, CLOSED, MERGED); a
    source is not active (a resolved incident stays as it was closed)."""
    sources = list(dict.fromkeys(request.source_incident_ids))  # once each, in order
    if target_id in sources:
        msg = f"incident {target_id} cannot be merged into itself"
        raise Conflict(msg, extra=[_at(target_id, "is the target")])
    await repository.lock_alert_keys(conn, sources)
    rows = await repository.lock_incidents(conn, [target_id, *sources], principal.team)
    target = rows.get(target_id)
    if target is None:
        raise missing_incident(target_id)
    missing = [s for s in sources if s not in rows]
    if missing:
        # Another team's incident answers exactly as one that does not exist.
        raise missing_incident(missing[0], extra=[_at(s, "not found") for s in missing])
    if IncidentStatus(target["status"]) not in ACTIVE:
        msg = f"incident {target_id} is {target['status']}: only an active incident takes a merge"
        raise Conflict(msg, current_status=target["status"])
    done = [s for s in sources if IncidentStatus(rows[s]["status"]) not in ACTIVE]
    if done:
        first = rows[done[0]]
        msg = f"incident {done[0]} is {first['status']}: only active incidents can be merged"
        raise Conflict(
            msg,
            current_status=first["status"],
            extra=[_at(s, f"is {rows[s]['status']}") for s in done],
        )
    await repository.merge(
        conn, target=target_id, sources=sources, actor=principal.name, reason=request.reason
    )
    return MergeResult(
        target=await incidents.get_incident(conn, target_id),
        merged=[await incidents.get_incident(conn, s) for s in sources],
    )


def _at(incident_id: str, message: str) -> dict[str, str]:
    return {"key": FIELD, "source": "body", "incident_id": incident_id, "message": message}
