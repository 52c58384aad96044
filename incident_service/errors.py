"""The domain's one error vocabulary, and the one place it is mapped to HTTP.

    IncidentError
     +-- NotFound              -> 404
     +-- Conflict              -> 409
     |    +-- InvalidTransition    (names the current status and the allowed ones)
     |    +-- IdempotencyMismatch  (same Idempotency-Key, different body)
     +-- ValidationFailed      -> 400 (names each bad field)
     +-- Unauthorized          -> 401 (no valid API key)
     |    +-- BadSignature         (a signed webhook's signature or timestamp is wrong)
     +-- Forbidden             -> 403 (the key lacks the scope, or the team)
     +-- PreconditionFailed    -> 412 (If-Match names a version that is not the current one)
     +-- RateLimited           -> 429 with Retry-After
     +-- UnsupportedMediaType  -> 415
     +-- Unavailable           -> 503 with Retry-After (the database is unreachable)
     +-- IntegrationError      -> 502 (a vendor failed; outbound syncs retry or stop)

Services raise these; routes never build error responses by hand. Anything else that
escapes a handler is a bug and is answered 500 without internals (see `app.py`).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class IncidentError(Exception):
    """Base of every error the domain raises on purpose."""

    status_code = 500
    title = "internal error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "detail": self.message, **self.extra}


class NotFound(IncidentError):
    status_code = 404
    title = "not found"


class Conflict(IncidentError):
    status_code = 409
    title = "conflict"


class InvalidTransition(Conflict):
    """A status move the lifecycle table forbids."""


class IdempotencyMismatch(Conflict):
    """An Idempotency-Key reused with a different request body."""


class ValidationFailed(IncidentError):
    status_code = 400
    title = "validation failed"

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message, extra=errors)


class Unauthorized(IncidentError):
    status_code = 401
    title = "unauthorized"


class BadSignature(Unauthorized):
    """An inbound webhook whose HMAC signature or timestamp does not verify."""

    title = "bad signature"


class Forbidden(IncidentError):
    status_code = 403
    title = "forbidden"


class PreconditionFailed(IncidentError):
    """An `If-Match` naming a version of the resource that is no longer the current one."""

    status_code = 412
    title = "precondition failed"


class RateLimited(IncidentError):
    status_code = 429
    title = "too many requests"


class UnsupportedMediaType(IncidentError):
    status_code = 415
    title = "unsupported media type"


class Unavailable(IncidentError):
    status_code = 503
    title = "service unavailable"


class IntegrationError(IncidentError):
    """A vendor (PagerDuty, Jira, ServiceNow) refused or failed a call."""

    status_code = 502
    title = "integration error"


# --- building the errors of one field --------------------------------------------------


def bad_field(
    key: str, message: str, *, summary: str | None = None, source: str = "body"
) -> ValidationFailed:
    """A 400 naming the one field at fault (`summary`: the detail, else `message`)."""
    return ValidationFailed(
        summary or message, [{"key": key, "message": message, "source": source}]
    )


def found(row: T | None, missing: NotFound) -> T:
    """The row a get-or-404 read, or the 404 `missing` when there is none."""
    if row is None:
        raise missing
    return row


def missing_incident(incident_id: str, *, field: str | None = None, **extra: Any) -> NotFound:
    """The 404 of an incident that is not there, or not there for the caller's team: one
    body for both, so that another team's incident is exactly as absent as a missing one.
    `field`: the body's field that named the incident, named in the body as a 400 names
    it; `extra`: further members of the body."""
    msg = f"incident {incident_id} not found"
    if field is not None:
        extra["extra"] = [{"key": field, "source": "body", "message": msg}]
    return NotFound(msg, **extra)


def missing_team(slug: str) -> NotFound:
    """The 404 of a team that is not there, or not the caller's: one body for both."""
    msg = f"team {slug!r} not found"
    return NotFound(msg)


def outside_team(message: str, key: str = "team") -> Forbidden:
    """A 403 for a team key writing another team's configuration: the field named, never
    the other team's rows."""
    return Forbidden(
        message, extra=[{"key": key, "source": "body", "message": "outside this key's team"}]
    )
