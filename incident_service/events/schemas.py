"""The event envelope: `{"event_id", "timestamp", "<event_type>": {...}}`.

`incident_created` has exactly the spec's shape; every other event type uses the same
envelope under its own key. Fields not set are omitted, so each event carries one key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec


class AutomatedResponseData(msgspec.Struct):
    action_type: str
    execution_status: str


class IncidentCreatedData(msgspec.Struct):
    incident_id: str
    title: str
    severity: str
    status: str
    affected_services: list[str]
    assigned_team: str
    automated_responses: list[AutomatedResponseData]


class IncidentStatusChangedData(msgspec.Struct):
    incident_id: str
    previous_status: str
    status: str
    severity: str
    assigned_team: str
    actor: str
    note: str | None
    reopen_count: int


class Event(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One outbox event. Exactly one of the event-type keys is present."""

    event_id: str
    timestamp: str
    incident_created: IncidentCreatedData | None = None
    incident_status_changed: IncidentStatusChangedData | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        kind: str = row["event_type"]
        # Every event type written to the outbox has a field here: a new type is added
        # to this struct and to _TYPED, so the OpenAPI document describes it too.
        data = {kind: msgspec.convert(row["payload"], _TYPED[kind])}
        return cls(
            event_id=str(row["event_id"]),
            timestamp=format_timestamp(row["created_at"]),
            **data,  # type: ignore[arg-type]
        )


_TYPED: dict[str, type[msgspec.Struct]] = {
    "incident_created": IncidentCreatedData,
    "incident_status_changed": IncidentStatusChangedData,
}


def format_timestamp(at: datetime) -> str:
    """`2025-06-21T10:00:00.000Z`: UTC, milliseconds, Z, as the spec's example."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
