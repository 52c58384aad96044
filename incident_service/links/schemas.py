"""Request and response types of links between incidents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import msgspec
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from incident_service.text import storable
from incident_service.vocabulary import IncidentSeverity, IncidentStatus


class LinkType(StrEnum):
    """What the other incident is to this one."""

    PARENT = "parent"
    CHILD = "child"
    RELATED = "related"


# The reverse view: A's parent has A as its child.
REVERSE = {LinkType.PARENT: LinkType.CHILD, LinkType.CHILD: LinkType.PARENT}

IncidentRef = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(storable)
]


class LinkCreate(BaseModel):
    """Link this incident to `incident_id`: `type` says what that one is to this one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: LinkType
    incident_id: IncidentRef


class Link(msgspec.Struct, kw_only=True):
    """A link as seen from one of its incidents: `type` is what `incident_id` (the other
    incident) is to it."""

    id: int
    type: LinkType
    incident_id: str
    title: str
    status: IncidentStatus
    severity: IncidentSeverity
    created_by: str
    created_by_user_id: UUID | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Link:
        return cls(
            id=row["id"],
            type=LinkType(row["type"]),
            incident_id=row["other_id"],
            title=row["title"],
            status=IncidentStatus(row["status"]),
            severity=IncidentSeverity(row["severity"]),
            created_by=row["created_by"],
            created_by_user_id=row["created_by_user_id"],
            created_at=row["created_at"],
        )
