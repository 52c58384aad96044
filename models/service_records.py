"""The service's incidents as `OpenedIncident`s: the one mapping used to train the model the
API serves (Dagster, from the warehouse) and to score an incident in the request.

Only what the service knows when an incident opens: title and description, the team, who
opened it (the API key's owner, or the alert integration), its labels and its affected
services. The declared severity is the *target* (the final severity), never an input, so
the model can disagree with the person or the alert that declared it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from models.records import OpenedIncident

# The model name the API serves and the Dagster training asset registers under. A
# ServiceNow history model (`models train --servicenow`) has its own name: its inputs are
# ServiceNow fields, not the service's.
SERVICE_MODEL = "incident-service"

# Labels are free-form; these many, sorted by key, are inputs (bounded work per request).
_MAX_LABELS = 20


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo is not None else t


def opened_from_service(incident: Mapping[str, Any]) -> OpenedIncident:
    """`incident`: a row with the columns of the `incidents` table (or the warehouse's
    copy of them): created_at, title, description, assigned_team, created_by, labels,
    affected_services."""
    labels: Mapping[str, Any] = incident.get("labels") or {}
    fields = {
        "team": str(incident.get("assigned_team") or ""),
        "created_by": str(incident.get("created_by") or ""),
    }
    for key in sorted(labels)[:_MAX_LABELS]:
        fields[f"label.{key}"] = str(labels[key])
    services: Sequence[Any] = incident.get("affected_services") or ()
    title = str(incident.get("title") or "")
    description = str(incident.get("description") or "")
    return OpenedIncident(
        opened_at=_naive_utc(incident["created_at"]),
        text=f"{title}\n{description}" if description else title,
        fields=fields,
        services=tuple(str(s) for s in services),
    )
