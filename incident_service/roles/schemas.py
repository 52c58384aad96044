"""Types of incident roles: the roles a team defines, who holds them on an incident (and
who held them before), and the checklist their tasks put on the incident."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from incident_service.text import LongText, Name, Title

# Every team has these; a team adds its own beside them (never under the same slug).
BUILT_IN = ("commander", "scribe", "communications")
# The role given to whoever acknowledges an incident, unless someone holds it already.
COMMANDER = "commander"
ROLE_SLUG = r"^[a-z][a-z0-9_-]{0,39}$"
RoleSlug = Annotated[str, StringConstraints(pattern=ROLE_SLUG)]


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: RoleSlug
    name: Name
    # Shown to whoever takes the role.
    instructions: LongText = ""
    # Each becomes a checklist item on an incident when the role is first assigned there.
    tasks: list[Title] = Field(default_factory=list, max_length=50)


class RoleUpdate(BaseModel):
    """Only the fields sent change; incidents keep the checklist items they already have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    instructions: LongText | None = None
    tasks: list[Title] | None = Field(default=None, max_length=50)


class Role(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    instructions: str
    tasks: list[str]
    # True for commander, scribe and communications, which every team has.
    built_in: bool
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A member of the incident's team.
    user_id: UUID


class Holding(msgspec.Struct, kw_only=True):
    """One person holding one role on an incident, from `assumed_at` until `relieved_at`
    (null while they hold it)."""

    id: int
    role: str
    user_id: UUID
    user_name: str
    assigned_by: str
    assumed_at: datetime
    relieved_by: str | None
    relieved_at: datetime | None


class IncidentRoles(msgspec.Struct, kw_only=True):
    """The current holders, and every holding ever (the current ones too), oldest first."""

    current: list[Holding]
    history: list[Holding]


class ChecklistItem(msgspec.Struct, kw_only=True):
    id: int
    incident_id: str
    role: str
    position: int
    title: str
    done: bool
    done_by: str | None
    done_at: datetime | None
    # Who last unticked it, and when.
    undone_by: str | None
    undone_at: datetime | None
    created_by: str
    created_at: datetime


class ChecklistTick(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    done: bool
