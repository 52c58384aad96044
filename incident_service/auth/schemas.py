"""API key types: what an admin asks for, what is shown, and the principal of a request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from incident_service.principal import Principal, Scope
from incident_service.text import Name, Team

__all__ = ["ApiKey", "ApiKeyCreate", "Principal", "Scope"]


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


class CallerUser(msgspec.Struct, kw_only=True):
    """The person a key acts for, with their teams (a team key sees its own team only)."""

    id: UUID
    name: str
    email: str | None
    teams: list[str]


class Caller(msgspec.Struct, kw_only=True):
    """`GET /api/v1/me`: the calling key as it authenticated this request."""

    key_id: UUID
    key_name: str
    prefix: str
    # The team the key is restricted to; null: every team.
    team: str | None
    scopes: list[Scope]
    rate_limit: int | None
    # The name written as the actor on the records this key makes (its user's, if any).
    actor: str
    user: CallerUser | None
