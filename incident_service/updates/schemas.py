"""Stakeholder updates and update cadences: what a client sends and what it is answered.

The public status of an update is Statuspage's realtime vocabulary (investigating,
identified, monitoring, resolved), which incident.io and Rootly status pages share: what
people outside the response are told, apart from the incident's own lifecycle status.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from incident_service.text import Statement
from incident_service.vocabulary import IncidentSeverity, IncidentStatus


class PublicStatus(StrEnum):
    """An update's status as a status page shows it (the CHECK of
    `incident_updates.status`, migration 0090)."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


# An update that names no status says where the incident is.
PUBLIC_STATUS_OF: dict[IncidentStatus, PublicStatus] = {
    IncidentStatus.OPEN: PublicStatus.INVESTIGATING,
    IncidentStatus.ACKNOWLEDGED: PublicStatus.INVESTIGATING,
    IncidentStatus.INVESTIGATING: PublicStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED: PublicStatus.IDENTIFIED,
    IncidentStatus.MONITORING: PublicStatus.MONITORING,
    IncidentStatus.RESOLVED: PublicStatus.RESOLVED,
    IncidentStatus.CLOSED: PublicStatus.RESOLVED,
}

# Minutes between updates by severity, for a team that has set none (None: no reminders).
# Tighter than Dispatch's tactical-report reminders (2 h at high priority, 6 h medium,
# 12 h low): these updates are for people outside the response, who see nothing else.
DEFAULT_CADENCE: dict[IncidentSeverity, float | None] = {
    IncidentSeverity.SEV1_CRITICAL: 30,
    IncidentSeverity.SEV2_HIGH: 60,
    IncidentSeverity.SEV3_MEDIUM: 240,
    IncidentSeverity.SEV4_LOW: None,
}

# Fractions allowed (as escalation delays): the tests remind every few seconds.
Minutes = Annotated[float, Field(ge=0.05, le=10_080)]
_MINUTES = "minutes between updates (fractions allowed, 0.05 to 10080); null: no reminders"


class UpdateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: PublicStatus | None = Field(
        default=None,
        description="the public status; left out, the incident's own (OPEN, ACKNOWLEDGED, "
        "INVESTIGATING: investigating; IDENTIFIED: identified; MONITORING: monitoring; "
        "RESOLVED, CLOSED: resolved)",
    )
    message: Statement = Field(description="Markdown (CommonMark; raw HTML is escaped)")


class CadenceWrite(BaseModel):
    """Minutes between updates for each severity; a severity left out follows the default
    (SEV1 30, SEV2 60, SEV3 240, SEV4 none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    SEV1_CRITICAL: Minutes | None = Field(default=None, description=_MINUTES)
    SEV2_HIGH: Minutes | None = Field(default=None, description=_MINUTES)
    SEV3_MEDIUM: Minutes | None = Field(default=None, description=_MINUTES)
    SEV4_LOW: Minutes | None = Field(default=None, description=_MINUTES)

    def explicit(self) -> dict[str, float | None]:
        """The severities the client named (null included), as stored."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class CadenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    every_minutes: CadenceWrite


class Author(msgspec.Struct, kw_only=True):
    name: str
    user_id: UUID | None


class StakeholderUpdate(msgspec.Struct, kw_only=True):
    id: int
    incident_id: str
    status: PublicStatus
    message: str
    message_html: str
    severity: IncidentSeverity
    incident_status: IncidentStatus
    author: Author
    posted_at: datetime


class PostedUpdate(StakeholderUpdate, kw_only=True):
    """The update just posted, with when the next one is due (null: no cadence for the
    incident's severity, or the incident is resolved)."""

    next_update_due_at: datetime | None


class SeverityMinutes(msgspec.Struct, kw_only=True):
    SEV1_CRITICAL: float | None
    SEV2_HIGH: float | None
    SEV3_MEDIUM: float | None
    SEV4_LOW: float | None


class Cadence(msgspec.Struct, kw_only=True):
    """A team's cadence: every severity's minutes (null: no reminders), which of them
    follow the default, and who set the rest."""

    team: str
    every_minutes: SeverityMinutes
    defaulted: list[IncidentSeverity]
    updated_by: str | None
    updated_at: datetime | None
