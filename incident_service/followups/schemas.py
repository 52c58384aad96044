"""Request and response types of the follow-up API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict

from incident_service.followups.lifecycle import FollowUpPriority, FollowUpState
from incident_service.outbound import safe_url
from incident_service.text import Title, bounded_day, bounded_instant


def _parse_due(value: Any) -> Any:
    """A date (`2026-12-15`) or a date-time (`2026-12-15T17:00:00Z`; UTC without an
    offset), within the range every instant must be in."""
    if not isinstance(value, str):
        return value  # pydantic says what it is not
    try:
        if len(value) == 10:
            return bounded_day(date.fromisoformat(value))
        return bounded_instant(datetime.fromisoformat(value))
    except ValueError as exc:
        msg = f"not a date (YYYY-MM-DD) or an ISO 8601 date-time in range: {exc}"
        raise ValueError(msg) from None


Due = Annotated[date | datetime, BeforeValidator(_parse_due)]


def due_columns(due: date | datetime | None) -> dict[str, Any]:
    """`due_date` (a date was given) and `due_at`, the instant it is overdue from: the end
    of a due day, in UTC."""
    if due is None:
        return {"due_date": None, "due_at": None}
    if isinstance(due, datetime):
        return {"due_date": None, "due_at": due}
    return {"due_date": due, "due_at": datetime.combine(due, time(), UTC) + timedelta(days=1)}


class FollowUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    # A person (users.id); may be set later, but a post-mortem is published only once
    # every follow-up of its incident has one.
    owner_id: UUID | None = None
    due: Due | None = None
    priority: FollowUpPriority = FollowUpPriority.MEDIUM


class FollowUpUpdate(BaseModel):
    """Only the fields sent change; `owner_id` or `due` sent as null clear them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title | None = None
    owner_id: UUID | None = None
    due: Due | None = None
    priority: FollowUpPriority | None = None
    state: FollowUpState | None = None


class ExternalIssue(msgspec.Struct, kw_only=True):
    """The follow-up's issue in a tracker (Jira)."""

    system: str
    integration_id: str
    key: str | None
    url: str | None
    status: str | None
    synced_at: datetime | None


class FollowUp(msgspec.Struct, kw_only=True):
    follow_up_id: str
    incident_id: str
    title: str
    owner_id: str | None
    # The owner's name (the user's), else the name a review wrote.
    owner_name: str | None
    # As given: a date or a date-time; `due_at` is the instant it is overdue from.
    due: str | None
    due_at: datetime | None
    overdue: bool
    priority: FollowUpPriority
    state: FollowUpState
    source: str
    team: str
    completed_at: datetime | None
    external_issue: ExternalIssue | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FollowUp:
        due = row["due_date"].isoformat() if row["due_date"] is not None else None
        if due is None and row["due_at"] is not None:
            due = row["due_at"].astimezone(UTC).isoformat()
        external = None
        if row["external_id"] is not None:
            external = ExternalIssue(
                system="jira",
                integration_id=str(row["external_integration_id"]),
                key=row["external_key"],
                url=safe_url(row["external_url"]),
                status=row["external_status"],
                synced_at=row["external_synced_at"],
            )
        return cls(
            follow_up_id=str(row["id"]),
            incident_id=row["incident_id"],
            title=row["title"],
            owner_id=str(row["owner_id"]) if row["owner_id"] is not None else None,
            owner_name=row["owner_display"],
            due=due,
            due_at=row["due_at"],
            overdue=bool(row["overdue"]),
            priority=FollowUpPriority(row["priority"]),
            state=FollowUpState(row["state"]),
            source=row["source"],
            team=row["team"],
            completed_at=row["completed_at"],
            external_issue=external,
            created_by=row["created_by"],
            created_at=row["created_at"],
            updated_by=row["updated_by"],
            updated_at=row["updated_at"],
        )
