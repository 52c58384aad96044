"""API key types: what an admin asks for, what is shown, and the principal of a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from incident_service.text import Name, Team


class Scope(StrEnum):
    """What a key may do. `admin` implies every other scope."""

    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    CONFIG_WRITE = "config:write"
    ADMIN = "admin"
    # Prometheus scrapes with a key of its own: the counts cover every team.
    METRICS_READ = "metrics:read"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's owner, its scopes, and the team it is restricted to.
    `user_id` is the person the key acts for (`api_keys.user_id`), when it has one; `name`
    is then that person's name, the actor written on every record."""

    key_id: UUID
    name: str
    scopes: frozenset[Scope]
    team: str | None
    rate_limit: int | None
    user_id: UUID | None = None

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def sees_team(self, team: str) -> bool:
        return self.team is None or self.team == team

    def acting_for(self, claimed: str | None, max_length: int = 200) -> str:
        """The actor to record: this principal, with a body's `actor` beside it only as
        "on behalf of" (a body can name anyone). The claim is shortened, never the
        principal, to fit the `max_length` of the actor columns."""
        if not claimed or claimed == self.name:
            return self.name
        room = max_length - len(self.name) - len(" (on behalf of )")
        if room < 2:
            return self.name
        if len(claimed) > room:
            claimed = claimed[: room - 1] + "\u2026"
        return f"{self.name} (on behalf of {claimed})"


def _whole_number(value: Any) -> Any:
    # Litestar validates bodies in lax mode, where `true`, "5" and 5.0 all become ints (a
    # field's own strictness does not survive that); a rate is a JSON integer or nothing.
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        msg = "must be a whole number"
        raise ValueError(msg)
    return value


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    team: Team | None = None
    rate_limit: Annotated[int | None, BeforeValidator(_whole_number)] = Field(
        default=None, gt=0, le=1_000_000
    )
    # The person the key acts for (a member of the key's team, for a team key): records
    # then name that user as the actor.
    user_id: UUID | None = None


class ApiKey(msgspec.Struct, kw_only=True):
    """A key as listed: never the key itself, only its prefix."""

    id: UUID
    name: str
    prefix: str
    scopes: list[Scope]
    team: str | None
    rate_limit: int | None
    user_id: UUID | None = None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class CreatedApiKey(msgspec.Struct, kw_only=True):
    """The answer to a create: the only time the key is shown."""

    key: str
    api_key: ApiKey
