"""What the API returns as an incident's `predictions`, and its similar past incidents."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ModelGate(msgspec.Struct, kw_only=True):
    passed: bool
    # The gate's checks the version failed, by name.
    failed: list[str]


class Predictions(msgspec.Struct, kw_only=True):
    """The active model's view of an incident, scored when it opened and again on every
    status change (`trigger`). Absent (null) when no model is active."""

    model: str
    model_version: int
    trigger: str
    scored_at: datetime
    elapsed_hours: float
    severity_probabilities: dict[str, float]
    suggested_severity: str
    sev1_probability: float
    # P(SEV1) + P(SEV2): how likely this is a high-severity incident.
    high_severity_probability: float
    ttr_p10_hours: float
    ttr_p50_hours: float
    ttr_p90_hours: float
    # Hours still to go, given the hours already elapsed (the survival model's answer).
    expected_remaining_hours: float
    # Whether the version passed its quality gate (docs/models.md): when it did not, the
    # response policies that read predictions are skipped. Absent on predictions stored
    # before versions had gates.
    model_gate: ModelGate | None = None


class SimilarIncident(msgspec.Struct, kw_only=True):
    """A past incident of the same team like this one, and why it matched: the one type
    the API, the post-mortem and the review notebook (through the API) share."""

    incident_id: str
    title: str
    severity: str
    status: str
    assigned_team: str
    affected_services: list[str]
    created_at: datetime
    resolved_at: datetime | None
    time_to_resolve_hours: float | None
    # 0..1: 0.6 x word similarity (rare words weigh more) + 0.4 x services overlap.
    score: float
    reason: str
    shared_services: list[str]
    shared_words: list[str]


class SimilarIncidents(msgspec.Struct, kw_only=True):
    """The body of `GET /api/v1/incidents/{id}/similar`."""

    incident_id: str
    similar: list[SimilarIncident]
