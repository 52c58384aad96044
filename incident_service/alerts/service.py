"""Alert rules: an alert opens an incident, feeds the open one, or moves it.

Per (integration, dedup key) everything runs under one transaction-scoped advisory lock,
so any number of concurrent triggers of one key open exactly one incident. An incident
resolved or closed by a person ends its group: the next trigger opens a new incident,
as a trigger after a resolve does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from incident_service.alerts import repository
from incident_service.alerts.inbound import Action, InboundAlert
from incident_service.alerts.schemas import Alert
from incident_service.db import AsyncConn
from incident_service.incidents import service as incidents
from incident_service.incidents.lifecycle import ACTIVE, ALLOWED
from incident_service.incidents.schemas import IncidentCreationRequest, StatusUpdateRequest
from incident_service.predictions.scorer import Scorer
from incident_service.responses.policies import PolicyFile
from incident_service.vocabulary import IncidentSeverity, IncidentStatus

# Events API v2 / label severities to ours, unless the integration's config maps them.
DEFAULT_SEVERITY_MAP = {
    "critical": IncidentSeverity.SEV1_CRITICAL,
    "error": IncidentSeverity.SEV2_HIGH,
    "warning": IncidentSeverity.SEV3_MEDIUM,
    "info": IncidentSeverity.SEV4_LOW,
}


@dataclass(frozen=True, slots=True)
class Ingested:
    alert_id: int
    dedup_key: str
    incident_id: str | None
    opened: bool


def _severity(alert: InboundAlert, config: dict[str, Any]) -> IncidentSeverity:
    mapping: dict[str, IncidentSeverity] = DEFAULT_SEVERITY_MAP | {
        k: IncidentSeverity(v) for k, v in config.get("severity_map", {}).items()
    }
    default = IncidentSeverity(config.get("default_severity", IncidentSeverity.SEV3_MEDIUM))
    return mapping.get(alert.severity or "", default)


def _creation(alert: InboundAlert, integration: dict[str, Any]) -> IncidentCreationRequest:
    title = " ".join(alert.summary.split())[:500] or f"Alert from {integration['name']}"[:500]
    return IncidentCreationRequest(
        title=title,
        description=alert.description,
        severity=_severity(alert, integration["config"]),
        affected_services=[s for s in alert.services if s.strip()],
        assigned_team=integration["team"],
    )


def actor_of(integration: dict[str, Any]) -> str:
    return f"integration:{integration['kind']}:{integration['name']}"[:200]


async def _move(
    conn: AsyncConn,
    incident_id: str,
    current: str,
    target: IncidentStatus,
    actor: str,
    note: str,
    scorer: Scorer | None,
) -> None:
    """Move when the lifecycle allows it; an alert never fails on a status already passed."""
    if target in ALLOWED[IncidentStatus(current)]:
        await incidents.change_status(
            conn,
            incident_id,
            StatusUpdateRequest(status=target, note=note[:20_000]),
            actor=actor,
            scorer=scorer,
        )


async def ingest(
    conn: AsyncConn,
    integration: dict[str, Any],
    alert: InboundAlert,
    *,
    locked: bool = False,
    policies: PolicyFile | None = None,
    scorer: Scorer | None = None,
) -> Ingested:
    """Store one alert and apply it to its incident, inside the caller's transaction.

    `locked`: the caller took this alert's key lock already (`integrations.by_key`).
    An incident an alert opens gets what one opened through the API gets: the response
    `policies`' actions and the `scorer`'s predictions."""
    integration_id: UUID = integration["id"]
    actor = actor_of(integration)
    if not locked:
        await repository.lock_key(conn, integration_id, alert.dedup_key)
    group = await repository.open_group(conn, integration_id, alert.dedup_key)
    if group is not None and IncidentStatus(group["incident_status"]) not in ACTIVE:
        await repository.update_group(conn, group["id"], "resolved", group["members"], 0)
        group = None

    opened = False
    if group is None and alert.action is Action.TRIGGER:
        created = await incidents.create_incident(
            conn, _creation(alert, integration), actor=actor, policies=policies, scorer=scorer
        )
        group = await repository.insert_group(
            conn, integration_id, alert.dedup_key, created.incident.incident_id
        )
        group["incident_status"] = created.incident.status.value
        opened = True

    incident_id = group["incident_id"] if group is not None else None
    target: IncidentStatus | None = None
    group_update: dict[str, Any] | None = None
    if group is not None:
        target, group_update = _next_state(group, alert)
    alert_id = await repository.insert_alert(
        conn,
        {
            "integration_id": integration_id,
            "group_id": group["id"] if group is not None else None,
            "incident_id": incident_id,
            "dedup_key": alert.dedup_key,
            "action": alert.action.value,
            "summary": alert.summary,
            "severity": alert.severity,
            "source": alert.source,
            "payload": alert.payload,
            "actor": actor,
        },
        group_update,
    )
    if (
        group is not None
        and target is IncidentStatus.RESOLVED
        and await repository.others_open(conn, group["incident_id"], group["id"])
    ):
        # An incident that took other incidents' alerts in a merge resolves with the last
        # of its groups, not the first.
        target = None
    if group is not None and target is not None:
        note = f"{alert.action.value}d by the alert source"  # acknowledged, resolved
        await _move(
            conn, group["incident_id"], group["incident_status"], target, actor, note, scorer
        )
    return Ingested(alert_id, alert.dedup_key, incident_id, opened)


def _next_state(
    group: dict[str, Any], alert: InboundAlert
) -> tuple[IncidentStatus | None, dict[str, Any]]:
    """The incident status the alert asks for (if any), and the group's new state."""
    members: dict[str, str] = dict(group["members"])
    status = group["status"]
    target: IncidentStatus | None = None
    if alert.member is not None:
        members[alert.member] = "resolved" if alert.action is Action.RESOLVE else "firing"
    if alert.action is Action.ACKNOWLEDGE:
        status, target = "acknowledged", IncidentStatus.ACKNOWLEDGED
    elif alert.action is Action.RESOLVE and all(s == "resolved" for s in members.values()):
        status, target = "resolved", IncidentStatus.RESOLVED
    return target, {"status": status, "members": members}


async def record_change(conn: AsyncConn, integration_id: UUID, event: dict[str, Any]) -> None:
    """A change event (a deploy, a configuration change): stored, opening nothing."""
    stamp = event["payload"].get("timestamp")
    occurred = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    await repository.insert_change(conn, integration_id, event, occurred)


async def incident_alerts(conn: AsyncConn, incident_id: str, limit: int) -> list[Alert]:
    """The first `limit` alerts that fed the incident, oldest first."""
    await incidents.get_incident(conn, incident_id)
    return [Alert(**r) for r in await repository.alerts_for(conn, incident_id, limit)]
