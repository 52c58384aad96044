"""Types of the subscriber API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator

from incident_service.events.schemas import EVENT_TYPES
from incident_service.outbound import redact_url
from incident_service.text import Name, Team

Subject = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$", max_length=200)]


# Where each kind of subscriber is delivered to.
_DESTINATION = {"webhook": "url", "nats": "subject"}


class SubscriberWrite(BaseModel):
    """A webhook (signed POSTs) or a NATS JetStream subject (`<subject>.<event_type>`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    # The team whose events it receives; none: every team's (an unrestricted admin key
    # only). A team key's subscribers are its team's, whatever this says.
    team: Team | None = None
    kind: Literal["webhook", "nats"]
    # Public addresses only, unless OUTBOUND_ALLOW_NETWORKS allows more; no user:pass@.
    url: HttpUrl | None = Field(default=None, validate_default=True)
    subject: Subject | None = Field(default=None, validate_default=True)
    # HMAC-SHA256 key for the X-Incident-Signature header (webhooks). Never returned.
    # Omitted on a PUT: the old one is kept, unless the url changes (then send it again).
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = None
    # Empty: every event type.
    event_types: list[str] = Field(default_factory=list, max_length=20)
    # "now": only events from now on; "beginning": the whole feed first.
    start: Literal["now", "beginning"] = "now"
    active: bool = True
    # Recorded as "on behalf of" beside the key's name, which is who made the change.
    actor: Name | None = None

    # Checked per field (not on the whole model) so that a 400 names the field.
    @field_validator("url", "subject")
    @classmethod
    def _where_to_deliver(
        cls, value: HttpUrl | str | None, info: ValidationInfo
    ) -> HttpUrl | str | None:
        kind = info.data.get("kind")
        if value is None and _DESTINATION.get(str(kind)) == info.field_name:
            msg = f"a {kind} subscriber needs a {info.field_name}"
            raise ValueError(msg)
        return value

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, event_types: list[str]) -> list[str]:
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            msg = f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}"
            raise ValueError(msg)
        return event_types


class Subscriber(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    team: str | None
    kind: str
    # Without credentials: no user:pass@, secret-looking query values as `***`.
    url: str | None
    subject: str | None
    has_secret: bool
    event_types: list[str]
    active: bool
    delivered_count: int
    failures: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str
    updated_on_behalf_of: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Subscriber:
        values = {k: row[k] for k in cls.__struct_fields__ if k not in ("has_secret", "url")}
        url = None if row["url"] is None else redact_url(row["url"])
        return cls(**values, url=url, has_secret=row["secret"] is not None)
