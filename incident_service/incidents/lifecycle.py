"""The incident lifecycle as data: which status may follow which.

Forward moves may skip states up to RESOLVED; IDENTIFIED, MONITORING and RESOLVED may go
back to INVESTIGATING (the fix did not hold / a reopen); only RESOLVED moves to CLOSED;
CLOSED is terminal; nothing returns to OPEN or ACKNOWLEDGED. MERGED is terminal too and
no status change reaches it: only a merge (`incident_service.merge`) does, from ACTIVE.
"""

from __future__ import annotations

from incident_service.vocabulary import IncidentSeverity, IncidentStatus

__all__ = ["ACTIVE", "ALLOWED", "IncidentSeverity", "IncidentStatus", "allowed_from", "is_reopen"]

S = IncidentStatus

ALLOWED: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.OPEN: frozenset({S.ACKNOWLEDGED, S.INVESTIGATING, S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.ACKNOWLEDGED: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.INVESTIGATING: frozenset({S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.IDENTIFIED: frozenset({S.MONITORING, S.RESOLVED, S.INVESTIGATING}),
    S.MONITORING: frozenset({S.RESOLVED, S.INVESTIGATING}),
    S.RESOLVED: frozenset({S.CLOSED, S.INVESTIGATING}),
    S.CLOSED: frozenset(),
    S.MERGED: frozenset(),
}

# Statuses in which an incident still needs people: escalation and paging stop outside them.
ACTIVE: frozenset[IncidentStatus] = frozenset(
    {S.OPEN, S.ACKNOWLEDGED, S.INVESTIGATING, S.IDENTIFIED, S.MONITORING}
)


def allowed_from(current: IncidentStatus) -> list[IncidentStatus]:
    """The statuses `current` may move to, in lifecycle order (for error bodies)."""
    order = list(IncidentStatus)
    return sorted(ALLOWED[current], key=order.index)


def is_reopen(current: IncidentStatus, target: IncidentStatus) -> bool:
    return current is S.RESOLVED and target is S.INVESTIGATING
