"""What people add to a post-mortem: contributing factors and action items.

The generated post-mortem is rebuilt from the record whenever the incident is resolved
again, so what people write is stored apart (`postmortem_reviews`, migration 0050) and
merged into every post-mortem built after it. Saving a review records a
`postmortem_reviewed` timeline entry (who and when) and regenerates the stored
post-mortem, so the JSON, Markdown and HTML all show it at once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from incident_service.changes import entry_of_parameters
from incident_service.db import AsyncConn, fetch_one
from incident_service.followups import repository as follow_ups
from incident_service.followups.schemas import due_columns
from incident_service.text import Name, Statement


class ActionItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Statement
    owner: Name
    due: date | None = None


class ReviewRequest(BaseModel):
    """The whole review: each save replaces the previous one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contributing_factors: Annotated[list[Statement], Field(max_length=50)]
    action_items: Annotated[list[ActionItem], Field(max_length=50)]


class Review(msgspec.Struct, kw_only=True):
    incident_id: str
    contributing_factors: list[str]
    action_items: list[dict[str, Any]]
    updated_by: str
    updated_at: datetime


def action_line(item: dict[str, Any]) -> str:
    """An action item as the post-mortem lists it."""
    due = f", due {item['due']}" if item.get("due") else ""
    return f"{item['action']} (owner: {item['owner']}{due})"


async def get(conn: AsyncConn, incident_id: str) -> Review | None:
    row = await fetch_one(
        conn,
        "select incident_id, contributing_factors, action_items, updated_by, updated_at"
        " from postmortem_reviews where incident_id = %s",
        (incident_id,),
    )
    return Review(**row) if row else None


_SAVE = f"""
with saved as (
    insert into postmortem_reviews (incident_id, contributing_factors, action_items, updated_by)
    values (%(incident_id)s, %(factors)s, %(items)s, %(actor)s)
    on conflict (incident_id) do update set
        contributing_factors = excluded.contributing_factors,
        action_items = excluded.action_items, updated_by = excluded.updated_by,
        updated_at = now()
) {entry_of_parameters("postmortem_reviewed")}
"""


def _as_follow_ups(review: ReviewRequest) -> list[dict[str, Any]]:
    """The action items as follow-ups: one per title (the first of repeated ones)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for n, item in enumerate(review.action_items):
        title = item.action[:500]
        if title.lower() in seen:
            continue
        seen.add(title.lower())
        out.append(
            {"title": title, "owner_name": item.owner, "n": n, **json_due(due_columns(item.due))}
        )
    return out


def json_due(columns: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if v is not None else None for k, v in columns.items()}


async def save(conn: AsyncConn, incident_id: str, review: ReviewRequest, actor: str) -> None:
    """Store the review (replacing an older one) and record who saved it, in the timeline;
    its action items become (or update, or withdraw) the incident's follow-ups."""
    await follow_ups.sync_review(conn, incident_id, _as_follow_ups(review), actor)
    items = [item.model_dump(mode="json") for item in review.action_items]
    await conn.execute(
        _SAVE,
        {
            "incident_id": incident_id,
            "factors": Jsonb(list(review.contributing_factors)),
            "items": Jsonb(items),
            "actor": actor,
            "note": None,
            "details": Jsonb(
                {
                    "contributing_factors": len(review.contributing_factors),
                    "action_items": len(items),
                }
            ),
        },
    )
