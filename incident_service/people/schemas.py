"""Types of the people API: users, teams, and team membership.

Requests are pydantic models (every invalid field named at once); answers are msgspec
Structs built from rows. An update (PATCH) changes only the fields it sends: a field sent
as null clears it, where clearing makes sense.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Annotated
from uuid import UUID
from zoneinfo import available_timezones

import msgspec
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from incident_service.principal import Role
from incident_service.text import Name, Team, storable

# Shape only: one @, something on each side, a dot in the domain, no spaces. Whether
# the address receives mail is for the mail server to say.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        msg = "not an email address (name@example.com)"
        raise ValueError(msg)
    return value


def _addressable(value: str) -> str:
    # A team is named in URLs (/api/v1/teams/{slug}): a slash or a dot-segment could
    # never be reached there.
    if "/" in value or value in {".", ".."} or value != value.strip():
        msg = "must not contain '/', be '.' or '..', or start or end with spaces"
        raise ValueError(msg)
    return value


@cache
def _zones() -> frozenset[str]:
    # Read once: the zones installed (tzdata), which a process does not see change.
    return frozenset(available_timezones() | {"UTC"})


def _zone(value: str) -> str:
    # Membership in the list only: a name is never opened as a path (`../..`).
    if value not in _zones():
        msg = "not an IANA time zone (e.g. Europe/Paris, UTC)"
        raise ValueError(msg)
    return value


Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320),
    AfterValidator(storable),
    AfterValidator(_email),
]
ChatHandle = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(storable)
]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_zone)]
# The existing team strings are the teams' slugs (migration 0086), so a new slug has their
# shape, and can be written in a URL.
TeamSlug = Annotated[Team, AfterValidator(_addressable)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    email: Email | None = None
    chat_handle: ChatHandle | None = None
    time_zone: TimeZone = "UTC"
    # The console role (viewer, responder, manager, admin: docs/operations.md); unset: the
    # default (responder). Only a caller with the `admin` scope may set it.
    role: Role | None = None
    # The teams the user joins. A team key's own team when left out (a team key may name
    # no other: the user would be out of its sight).
    teams: list[TeamSlug] = Field(default_factory=list, max_length=50)


class UserUpdate(BaseModel):
    """Only the fields sent change; `email` and `chat_handle` sent as null are cleared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    email: Email | None = None
    chat_handle: ChatHandle | None = None
    time_zone: TimeZone | None = None
    # The console role; only a key (or session) with the `admin` scope may change it.
    role: Role | None = None
    # false deactivates the user (their keys stop working); true reactivates them.
    active: bool | None = None


class User(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    email: str | None
    chat_handle: str | None
    time_zone: str
    # What the user may do when signed in through OIDC: viewer, responder, manager, admin.
    role: Role
    # The user's teams that the caller can see (a team key: its own, if the user is in it).
    teams: list[str]
    active: bool
    # When the user was deactivated (DELETE, or PATCH active=false); null while active.
    deactivated_at: datetime | None
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: TeamSlug
    name: Name
    default_escalation_policy_id: UUID | None = None
    members: list[UUID] = Field(default_factory=list, max_length=500)


class TeamUpdate(BaseModel):
    """Only the fields sent change; `default_escalation_policy_id` sent as null clears it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    default_escalation_policy_id: UUID | None = None
    # Membership changes, each recorded with who and when (as PUT/DELETE .../members/{id}):
    # users the caller sees join; members leave (a user who is not one is a 400).
    add_members: list[UUID] = Field(default_factory=list, max_length=500)
    remove_members: list[UUID] = Field(default_factory=list, max_length=500)


class UserChange(msgspec.Struct, kw_only=True):
    """One change of a user: `created`, `updated` (`fields`), `deactivated`, `reactivated`."""

    id: int
    change: str
    fields: list[str]
    actor: str
    changed_at: datetime


class Member(msgspec.Struct, kw_only=True):
    user_id: UUID
    name: str
    email: str | None
    added_by: str
    added_at: datetime


class TeamRead(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    default_escalation_policy_id: UUID | None
    members: list[Member]
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime


class MembershipChange(msgspec.Struct, kw_only=True):
    """One addition to or removal from a team, by whom and when."""

    id: int
    user_id: UUID
    change: str
    actor: str
    changed_at: datetime
