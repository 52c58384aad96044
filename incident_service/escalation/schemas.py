"""Types of the escalation API: schedules, overrides, policies, manual escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident_service.escalation.schedules import BoundedDateTime, Layer, TimeZone
from incident_service.text import Name, Statement, Team


class ScheduleWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    timezone: TimeZone
    layers: list[Layer] = Field(min_length=1, max_length=20)
    # The owning team; a team key's own team when left out (required otherwise).
    team: Team | None = None
    # Recorded as `on_behalf_of`, beside the key's name (never instead of it).
    actor: Name | None = None


class OverrideWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    person: Name
    starts_at: BoundedDateTime
    ends_at: BoundedDateTime
    actor: Name | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OverrideWrite:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            msg = "starts_at and ends_at need a UTC offset"
            raise ValueError(msg)
        if self.ends_at <= self.starts_at:
            msg = "ends_at must be after starts_at"
            raise ValueError(msg)
        return self


class Target(BaseModel):
    """Who a level notifies: a person, whoever is on call in a schedule, or a team."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["person", "schedule", "team"]
    id: Name


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Minutes to wait for an acknowledgement before the next level (fractions allowed).
    delay_minutes: Annotated[float, Field(ge=0, le=1440)]
    targets: list[Target] = Field(min_length=1, max_length=20)


class PolicyWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    team: Team
    name: Name
    levels: list[Level] = Field(min_length=1, max_length=10)
    # How many more times the whole list runs after the last level (0: once).
    repeat: Annotated[int, Field(ge=0, le=10)] = 0
    actor: Name | None = None


class EscalationRequest(BaseModel):
    """The spec's request: why, and optionally which level (default: the next one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Statement
    target_level: Annotated[int, Field(ge=1, le=10)] | None = None
    actor: Name | None = None


class Override(msgspec.Struct, kw_only=True):
    id: UUID
    schedule_id: UUID
    person: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    created_by: str
    on_behalf_of: str | None = None


class Schedule(msgspec.Struct, kw_only=True):
    id: UUID
    team: str | None  # null: unassigned (a schedule from before teams that no policy used)
    name: str
    timezone: str
    layers: list[dict[str, Any]]
    overrides: list[Override]
    created_at: datetime
    updated_at: datetime
    updated_by: str
    on_behalf_of: str | None = None


class OnCallNow(msgspec.Struct, kw_only=True):
    schedule_id: UUID
    at: datetime
    person: str | None
    source: str


class EscalationPolicy(msgspec.Struct, kw_only=True):
    id: UUID
    team: str
    name: str
    levels: list[dict[str, Any]]
    repeat: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    on_behalf_of: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EscalationPolicy:
        return cls(**{k: row[k] for k in cls.__struct_fields__})


class Notified(msgspec.Struct, kw_only=True):
    target_type: str
    target: str
    recipient: str
    channel: str
    delivery_status: str
    last_error: str | None = None


class EscalationResult(msgspec.Struct, kw_only=True):
    """The spec's result, with each target's channel and delivery status."""

    incident_id: str
    previous_level: int
    escalation_level: int
    notified: list[Notified]
    escalated_at: datetime
