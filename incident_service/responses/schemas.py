"""Types of the automated-response API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict

from incident_service.text import LongText, Name
from incident_service.vocabulary import ResponseStatus


class AutomatedResponse(msgspec.Struct, kw_only=True):
    """One action taken for an incident: the spec's columns, then its progress."""

    response_id: str
    incident_id: str
    action_type: str
    action_details: str
    execution_status: ResponseStatus
    executed_at: datetime | None
    position: int
    parameters: dict[str, Any]
    policy_id: str | None
    attempts: int
    max_attempts: int
    deadline_s: float
    stop_on_failure: bool
    last_error: str | None
    started_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AutomatedResponse:
        fields = {k: row[k] for k in cls.__struct_fields__}
        return cls(**fields)


class PolicyMatch(msgspec.Struct):
    policy: str
    why: list[str]


class IncidentResponses(msgspec.Struct, kw_only=True):
    """What the response policies decided for an incident, and each action's state."""

    incident_id: str
    policy_version: str | None
    matched: list[PolicyMatch]
    not_matched: list[PolicyMatch]
    # What the policies were evaluated on: the `incident` fields and the model's
    # `predicted` values (empty when no model was active), for offline evaluation.
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    responses: list[AutomatedResponse]


class ResponseCommand(BaseModel):
    """Body of retry and cancel (optional): who asks, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Name | None = None
    note: LongText | None = None
