"""Request and response types of the integration API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident_service.incidents.lifecycle import IncidentSeverity
from incident_service.text import Name, Team


class IntegrationKind(StrEnum):
    EVENTS_V2 = "events-v2"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    PAGERDUTY = "pagerduty"
    JIRA = "jira"
    SERVICENOW = "servicenow"


INBOUND = frozenset(
    {IntegrationKind.EVENTS_V2, IntegrationKind.ALERTMANAGER, IntegrationKind.GRAFANA}
)
OUTBOUND = frozenset({IntegrationKind.PAGERDUTY, IntegrationKind.JIRA, IntegrationKind.SERVICENOW})

# Options each outbound kind cannot work without.
_REQUIRED_CONFIG: dict[IntegrationKind, tuple[str, ...]] = {
    IntegrationKind.PAGERDUTY: ("service_id",),
    IntegrationKind.JIRA: ("project",),
    IntegrationKind.SERVICENOW: (),
}
# Credentials belong in the environment (INTEGRATIONS_*), never in a stored config.
_SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


class IntegrationCreate(BaseModel):
    """A new integration for a team.

    Inbound kinds (`events-v2`, `alertmanager`, `grafana`) get a key to send alerts with;
    outbound kinds (`pagerduty`, `jira`, `servicenow`) receive the team's incidents of the
    listed severities (all when empty).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: IntegrationKind
    team: Team
    name: Name | None = None
    severities: list[IncidentSeverity] = Field(default_factory=list, max_length=4)
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_config(self) -> IntegrationCreate:
        # `secret_name`/`signature_header` name a secret held elsewhere; they are fine.
        secret_keys = [
            k
            for k in self.config
            if any(w in k.lower() for w in _SECRET_WORDS) and not k.endswith(("_name", "_header"))
        ]
        if secret_keys:
            msg = (
                f"config must not hold credentials ({', '.join(sorted(secret_keys))}): "
                "set them in the environment (INTEGRATIONS_*) instead"
            )
            raise ValueError(msg)
        severities = {s.value for s in IncidentSeverity}
        mapped = self.config.get("severity_map", {})
        if not isinstance(mapped, dict) or not set(mapped.values()) <= severities:
            msg = f"config.severity_map must map alert severities to one of {sorted(severities)}"
            raise ValueError(msg)
        if self.config.get("default_severity", "SEV3_MEDIUM") not in severities:
            msg = f"config.default_severity must be one of {sorted(severities)}"
            raise ValueError(msg)
        missing = [k for k in _REQUIRED_CONFIG.get(self.kind, ()) if not self.config.get(k)]
        if missing:
            msg = f"config for {self.kind.value} needs: {', '.join(missing)}"
            raise ValueError(msg)
        return self


class Integration(msgspec.Struct, kw_only=True):
    integration_id: str
    kind: IntegrationKind
    name: str
    team: str
    severities: list[IncidentSeverity]
    config: dict[str, Any]
    enabled: bool
    created_by: str
    created_at: datetime
    # The first characters of an inbound key, to tell keys apart; the key is shown once.
    key_prefix: str | None = None
    # Set only in the answer to the create request of an inbound integration.
    integration_key: str | None = None
    url: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Integration:
        return cls(
            integration_id=str(row["id"]),
            kind=IntegrationKind(row["kind"]),
            name=row["name"],
            team=row["team"],
            severities=[IncidentSeverity(s) for s in row["severities"]],
            config=row["config"],
            enabled=row["enabled"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            key_prefix=row["key_prefix"],
        )


class IntegrationLink(msgspec.Struct, kw_only=True):
    """An incident's record in a vendor system."""

    system: str
    integration_id: str
    remote_id: str
    remote_key: str | None
    remote_url: str | None
    remote_status: str | None
    last_synced_at: datetime


class SyncState(msgspec.Struct, kw_only=True):
    """One outbound sync step: what, where, how it went."""

    sync_id: str
    incident_id: str
    integration_id: str
    system: str
    action: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
