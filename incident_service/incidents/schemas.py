"""Request and response types of the incident API.

Requests are pydantic models because pydantic reports every invalid field at once (the
400 body names each one); responses are msgspec Structs, built from rows and encoded
without a validation pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from incident_service.predictions.schemas import Predictions
from incident_service.text import LongText, Name, Team, Title
from incident_service.vocabulary import IncidentSeverity, IncidentStatus

LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,63}$")]


class IntegrationLink(msgspec.Struct, kw_only=True):
    """An incident's record in a vendor system."""

    system: str
    integration_id: str
    remote_id: str
    remote_key: str | None
    remote_url: str | None
    remote_status: str | None
    last_synced_at: datetime


class IncidentCreationRequest(BaseModel):
    """What a person or a tool says about a new incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    description: LongText = ""
    severity: IncidentSeverity
    affected_services: list[Name] = Field(default_factory=list, max_length=100)
    assigned_team: Team
    assignee: Name | None = None
    # Free-form key/value labels that response-policy conditions can test
    # (`incident.labels.<name>`), e.g. {"cause": "deploy", "env": "prod"}.
    labels: dict[LabelKey, Name] = Field(default_factory=dict, max_length=50)


# The fields a PATCH may change, in the order their timeline entries are written.
EDITABLE = (
    "title",
    "description",
    "severity",
    "assigned_team",
    "assignee",
    "affected_services",
    "labels",
)


class IncidentPatch(BaseModel):
    """An edit: only the fields given change, each validated as at creation. `assignee` is
    a user's id (`users.id`), or null to unassign; no other field may be null."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title | None = None
    description: LongText | None = None
    severity: IncidentSeverity | None = None
    assigned_team: Team | None = None
    assignee: UUID | None = None
    affected_services: list[Name] | None = Field(default=None, max_length=100)
    labels: dict[LabelKey, Name] | None = Field(default=None, max_length=50)

    @field_validator(*(f for f in EDITABLE if f != "assignee"), mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for fields the body gives: an absent field is left as it is.
        if value is None:
            msg = "must not be null (leave the field out to keep it)"
            raise ValueError(msg)
        return value


class StatusUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: IncidentStatus
    note: LongText | None = None
    actor: Name | None = None


class Incident(msgspec.Struct, kw_only=True):
    """An incident as the API returns it: the spec's fields, then ours."""

    incident_id: str
    title: str
    description: str
    severity: IncidentSeverity
    status: IncidentStatus
    affected_services: list[str]
    assigned_team: str
    assignee: str | None
    # The assignee as a person (`users.id`); null when unassigned or named only by a string.
    assignee_id: UUID | None
    created_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    reopen_count: int
    created_by: str
    # Bumped by every change of the incident; the answers' ETag, compared with If-Match.
    version: int
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    # The active model's predictions, re-scored on every status change; null when
    # no model is active.
    predictions: Predictions | None = None
    # The incident a MERGED one was folded into (POST /api/v1/incidents/{id}/merge).
    merged_into: str | None = None
    # Its records in PagerDuty, Jira, ServiceNow: in GET /api/v1/incidents/{id} only.
    integration_links: list[IntegrationLink] | msgspec.UnsetType = msgspec.UNSET

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Incident:
        return cls(
            incident_id=row["incident_id"],
            title=row["title"],
            description=row["description"],
            severity=IncidentSeverity(row["severity"]),
            status=IncidentStatus(row["status"]),
            affected_services=row["affected_services"],
            assigned_team=row["assigned_team"],
            assignee=row["assignee"],
            assignee_id=row["assignee_id"],
            created_at=row["created_at"],
            resolved_at=row["resolved_at"],
            acknowledged_at=row["acknowledged_at"],
            closed_at=row["closed_at"],
            updated_at=row["updated_at"],
            reopen_count=row["reopen_count"],
            created_by=row["created_by"],
            version=row["version"],
            labels=row.get("labels") or {},
            merged_into=row.get("merged_into"),
            predictions=(
                msgspec.convert(row["predictions"], Predictions) if row.get("predictions") else None
            ),
        )


class Stale(msgspec.Struct, kw_only=True):
    """The 412 answer to an If-Match naming an old version."""

    status_code: int
    detail: str
    current_version: int


class TimelineEntry(msgspec.Struct, kw_only=True):
    """One recorded change or note on an incident: who, when, from, to, note."""

    id: int
    incident_id: str
    kind: str
    actor: str
    occurred_at: datetime
    from_status: IncidentStatus | None = None
    to_status: IncidentStatus | None = None
    note: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)
