"""The post-mortem document and the reports listing, as served by the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict

from incident_service.postmortems.lifecycle import PostmortemState
from incident_service.predictions.schemas import SimilarIncident
from incident_service.text import LongText


class TimelineItem(msgspec.Struct, kw_only=True):
    """One entry of the incident's timeline, exactly one per `incident_timeline` row."""

    event_id: int
    occurred_at: datetime
    kind: str
    actor: str
    summary: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class Impact(msgspec.Struct, kw_only=True):
    """Severity, scope and the phase durations (seconds; null when it did not happen)."""

    severity: str
    services: list[str]
    team: str
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    duration_s: float | None
    time_to_detect_s: float
    time_to_acknowledge_s: float | None
    time_to_mitigate_s: float | None
    time_to_resolve_s: float | None
    alerts: int
    escalations: int
    reopen_count: int


class ResponseOutcome(msgspec.Struct, kw_only=True):
    response_id: str
    action_type: str
    execution_status: str
    executed_at: datetime | None
    last_error: str | None = None


class Prediction(msgspec.Struct, kw_only=True):
    """What a model predicted when the incident was opened, against what happened."""

    model: str
    target: str
    predicted: str
    actual: str


class StakeholderUpdateItem(msgspec.Struct, kw_only=True):
    """An update posted for people outside the response, as they read it."""

    posted_at: datetime
    status: str
    message: str
    posted_by: str


class RoleHeld(msgspec.Struct, kw_only=True):
    """Who held an incident role, from when to when (relieved_at None: to the end)."""

    role: str
    user_id: str
    name: str
    assumed_at: datetime
    relieved_at: datetime | None = None


class Postmortem(msgspec.Struct, kw_only=True):
    incident_id: str
    title: str
    status: str
    summary: str
    impact: Impact
    timeline: list[TimelineItem]
    automated_responses: list[ResponseOutcome]
    integration_links: list[dict[str, Any]]
    predictions: list[Prediction] | None
    similar_incidents: list[SimilarIncident]
    contributing_factors: list[str]
    action_items: list[str]
    definitions: dict[str, str]
    generated_at: datetime
    generated_by: str
    # Empty in documents stored before these were part of a post-mortem.
    stakeholder_updates: list[StakeholderUpdateItem] = msgspec.field(default_factory=list)
    roles: list[RoleHeld] = msgspec.field(default_factory=list)
    # The review state and version (migration 0089); a published version never changes.
    state: str = "draft"
    version: int = 1
    published_at: datetime | None = None
    published_by: str | None = None


class PostmortemVersion(msgspec.Struct, kw_only=True):
    """One version of a post-mortem: every published one, and the current one."""

    version: int
    state: str
    published_at: datetime | None
    published_by: str | None
    url: str


class ReportFile(msgspec.Struct, kw_only=True):
    name: str
    format: str
    size_bytes: int
    modified_at: datetime
    url: str


class PostmortemStateRequest(BaseModel):
    """Move the post-mortem: `in_review`, `published`, or back to `draft`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: PostmortemState
    note: LongText | None = None
