"""Who is calling: a request's principal and the scopes a key may hold.

A leaf, so that the shared route plumbing (`routing.py`) and every domain can name the
caller without importing the auth package; `auth` authenticates and builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Scope(StrEnum):
    """What a key may do. `admin` implies every other scope."""

    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    CONFIG_WRITE = "config:write"
    ADMIN = "admin"
    # Prometheus scrapes with a key of its own: the counts cover every team.
    METRICS_READ = "metrics:read"


class Role(StrEnum):
    """A person's role in the console, mapped onto the scopes (`ROLE_SCOPES`)."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    MANAGER = "manager"
    ADMIN = "admin"


# Each role holds the one before it: the same rules as API keys with these scopes.
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.VIEWER: frozenset({Scope.INCIDENTS_READ}),
    Role.RESPONDER: frozenset({Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE}),
    Role.MANAGER: frozenset({Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE, Scope.CONFIG_WRITE}),
    Role.ADMIN: frozenset({Scope.ADMIN}),
}


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

    def narrowed(self, asked: str | None) -> tuple[str | None, bool]:
        """The team a list or search filters by when it was asked for team `asked`, and
        whether it can find anything: a team key narrows the filter to its own team, and
        its asking for another team's things finds nothing (an empty list, not an error).
        """
        if self.team is None:
            return asked, True
        return self.team, asked is None or asked == self.team

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
