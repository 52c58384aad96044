"""Request and response types of the integration API."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from incident_service.incidents.lifecycle import IncidentSeverity
from incident_service.text import Name, Team, storable


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

# Credentials belong in the environment (INTEGRATIONS_*), never in a stored config.
_SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


def _storable_json(value: Any) -> Any:
    """Any JSON value PostgreSQL can store (no NUL, no lone surrogate, in keys or values)."""
    if isinstance(value, str):
        storable(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            storable(str(k))
            _storable_json(v)
    elif isinstance(value, list):
        for v in value:
            _storable_json(v)
    elif isinstance(value, float) and not math.isfinite(value):
        msg = "must not contain NaN or Infinity"
        raise ValueError(msg)
    return value


# A short configuration string: a name, an id, a header, a label value.
ConfigText = Annotated[str, StringConstraints(max_length=200), AfterValidator(storable)]
RequiredText = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable)
]


class _Config(BaseModel):
    """Options of one kind; an unknown option is refused, so a typo cannot be ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class InboundConfig(_Config):
    """`events-v2`: alert severities (critical, error, warning, info, or others a sender
    uses) to ours, and the severity of an alert that names none we know."""

    severity_map: dict[ConfigText, IncidentSeverity] = Field(default_factory=dict, max_length=100)
    default_severity: IncidentSeverity = IncidentSeverity.SEV3_MEDIUM


class WebhookConfig(InboundConfig):
    """`alertmanager` and `grafana`: which label carries the severity and how its values
    read, and the HMAC secret (by name, see `webhook_secrets`) requests are signed with."""

    severity_label: ConfigText = "severity"
    severity_labels: dict[ConfigText, ConfigText] = Field(default_factory=dict, max_length=100)
    secret_name: ConfigText | None = None
    signature_header: ConfigText = "X-Grafana-Alert-Signature"
    timestamp_header: ConfigText = "X-Grafana-Alert-Timestamp"


class PagerDutyConfig(_Config):
    service_id: RequiredText
    from_email: ConfigText | None = None


class JiraConfig(_Config):
    project: RequiredText
    issue_type: ConfigText = "Incident"
    # Extra fields set on create (components, custom fields): any JSON Jira accepts.
    fields: Annotated[
        dict[ConfigText, Any], AfterValidator(_storable_json), Field(max_length=100)
    ] = Field(default_factory=dict)
    priority_map: dict[IncidentSeverity, ConfigText] = Field(default_factory=dict)
    resolve_transition: ConfigText = "Done"
    close_transition: ConfigText = "Done"
    # Follow-ups of the team's incidents become issues; an issue done closes its follow-up.
    export_follow_ups: StrictBool = False
    follow_up_issue_type: RequiredText = "Task"
    follow_up_done_statuses: list[RequiredText] = Field(
        default_factory=lambda: ["Done"], min_length=1, max_length=20
    )
    # The transitions a follow-up closed or reopened here takes its issue through (none
    # named: the first the issue's workflow offers into, or out of, a done status).
    follow_up_done_transition: RequiredText | None = None
    follow_up_reopen_transition: RequiredText | None = None


class ServiceNowConfig(_Config):
    close_code: ConfigText = "Solved (Permanently)"
    assignment_group: ConfigText | None = None


CONFIG_SCHEMAS: dict[IntegrationKind, type[_Config]] = {
    IntegrationKind.EVENTS_V2: InboundConfig,
    IntegrationKind.ALERTMANAGER: WebhookConfig,
    IntegrationKind.GRAFANA: WebhookConfig,
    IntegrationKind.PAGERDUTY: PagerDutyConfig,
    IntegrationKind.JIRA: JiraConfig,
    IntegrationKind.SERVICENOW: ServiceNowConfig,
}


def validate_config(kind: IntegrationKind, config: dict[str, Any]) -> dict[str, Any]:
    """The config as stored (what was sent, checked against its kind's schema), or
    ValueError naming every problem: credentials, unknown keys, wrong values."""
    # `secret_name`/`signature_header` name a secret held elsewhere; they are fine.
    secret_keys = [
        k
        for k in config
        if any(w in k.lower() for w in _SECRET_WORDS) and not k.endswith(("_name", "_header"))
    ]
    if secret_keys:
        msg = (
            f"config must not hold credentials ({', '.join(sorted(secret_keys))}): "
            "set them in the environment (INTEGRATIONS_*) instead"
        )
        raise ValueError(msg)
    schema = CONFIG_SCHEMAS[kind]
    unknown = sorted(set(config) - set(schema.model_fields))
    if unknown:
        msg = (
            f"unknown config keys for {kind.value}: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(schema.model_fields))})"
        )
        raise ValueError(msg)
    try:
        checked = schema.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        msg = f"invalid config for {kind.value}: {problems}"
        raise ValueError(msg) from None
    stored: dict[str, Any] = checked.model_dump(mode="json", exclude_unset=True)
    return stored


RateLimitPerMin = Annotated[int | None, Field(default=None, ge=1, le=1_000_000)]


class IntegrationCreate(BaseModel):
    """A new integration for a team.

    Inbound kinds (`events-v2`, `alertmanager`, `grafana`) get a key to send alerts with;
    outbound kinds (`pagerduty`, `jira`, `servicenow`) receive the team's incidents of the
    listed severities (all when empty).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Declared first: `config` and the limits are checked against it.
    kind: IntegrationKind
    team: Team
    name: Name | None = None
    severities: list[IncidentSeverity] = Field(default_factory=list, max_length=4)
    config: dict[str, Any] = Field(default_factory=dict, max_length=100)
    # Inbound only: events per minute sustained, and how many may arrive at once (unset:
    # the server's INTEGRATIONS_INTAKE_RATE_PER_MIN and INTEGRATIONS_INTAKE_BURST).
    rate_limit_per_min: RateLimitPerMin = None
    rate_limit_burst: RateLimitPerMin = None

    @field_validator("config")
    @classmethod
    def _check_config(cls, config: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        return config if kind is None else validate_config(kind, config)

    @field_validator("rate_limit_per_min", "rate_limit_burst")
    @classmethod
    def _check_limit(cls, limit: int | None, info: ValidationInfo) -> int | None:
        check_rate_limit(info.data.get("kind"), limit)
        return limit


class IntegrationUpdate(BaseModel):
    """The new state of an integration (its kind, team and key do not change here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    severities: list[IncidentSeverity] = Field(default_factory=list, max_length=4)
    config: dict[str, Any] = Field(default_factory=dict, max_length=100)
    rate_limit_per_min: RateLimitPerMin = None
    rate_limit_burst: RateLimitPerMin = None


def check_rate_limit(kind: IntegrationKind | None, limit: int | None) -> None:
    if kind is not None and kind not in INBOUND and limit is not None:
        msg = "intake limits apply to inbound integrations only"
        raise ValueError(msg)


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
    updated_at: datetime | None = None
    # Inbound: the intake limit set on this integration (null: the server's default).
    rate_limit_per_min: int | None = None
    rate_limit_burst: int | None = None
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
            updated_at=row["updated_at"],
            rate_limit_per_min=row["rate_per_min"],
            rate_limit_burst=row["rate_burst"],
            key_prefix=row["key_prefix"],
        )


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
