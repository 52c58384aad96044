"""Everything the incident page shows, read through the domains' services with the
caller's team (the guard has already answered 404 for an incident of another team)."""

from __future__ import annotations

from typing import Any

from incident_service.alerts import service as alerts
from incident_service.db import AsyncConn
from incident_service.escalation import repository as escalation
from incident_service.followups import service as followups
from incident_service.incidents import service as incidents
from incident_service.incidents.lifecycle import allowed_from
from incident_service.links import service as links
from incident_service.notes import service as notes
from incident_service.people import repository as people
from incident_service.principal import Principal
from incident_service.responses import service as responses
from incident_service.roles import service as roles
from incident_service.updates import service as updates
from incident_service.vocabulary import IncidentSeverity

# Statuses a post-mortem can be read in (generated at resolution).
_POSTMORTEM_READY = frozenset({"RESOLVED", "CLOSED"})
_LIST_LIMIT = 100


async def incident_view(
    conn: AsyncConn, principal: Principal, incident_id: str, *, kind: str | None = None
) -> dict[str, Any]:
    incident = await incidents.get_incident(conn, incident_id)
    incident.integration_links = await incidents.integration_links(conn, incident_id)
    timeline = await incidents.timeline(conn, incident_id)
    kinds = sorted({e.kind for e in timeline})
    shown = [e for e in timeline if kind is None or e.kind == kind]
    state = await escalation.get_state(conn, incident_id, for_update=False)
    team = principal.team
    return {
        "incident": incident,
        "allowed": [s.value for s in allowed_from(incident.status)],
        "severities": [s.value for s in IncidentSeverity],
        "timeline": list(reversed(shown))[:_LIST_LIMIT],
        "timeline_total": len(shown),
        "kinds": kinds,
        "kind": kind,
        "notes": (
            await notes.list_notes(
                conn, incident_id, principal=principal, cursor=None, limit=_LIST_LIMIT
            )
        ).items,
        "roles": await roles.incident_roles(conn, incident_id),
        "checklist": await roles.checklist(conn, incident_id),
        "members": await people.members(conn, [incident.assigned_team]),
        "follow_ups": await followups.of_incident(conn, incident_id, team=team),
        "updates": await updates.list_updates(conn, principal, incident_id, limit=20, before=None),
        "responses": await responses.incident_responses(conn, incident_id, team=team),
        "escalation": state,
        "notifications": await escalation.list_notifications(conn, incident_id),
        "alerts": await alerts.incident_alerts(conn, incident_id, 50),
        "links": await links.list_links(conn, incident_id, principal=principal),
        "postmortem_ready": incident.status.value in _POSTMORTEM_READY,
    }
