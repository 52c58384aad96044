"""Request and response types of incident notes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict

from incident_service.markdown import render
from incident_service.text import Statement


class Visibility(StrEnum):
    """Who a note is for: the responders only, or also the stakeholders (status updates)."""

    INTERNAL = "internal"
    STAKEHOLDER = "stakeholder"


class NoteCreate(BaseModel):
    """A note in Markdown (CommonMark; raw HTML is shown as text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body: Statement
    visibility: Visibility = Visibility.INTERNAL


class NoteEdit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    body: Statement


class NoteRevision(msgspec.Struct, kw_only=True):
    """A body the note had before an edit, who replaced it and when."""

    previous_body: str
    edited_by: str
    edited_by_user_id: UUID | None
    edited_at: datetime


class Note(msgspec.Struct, kw_only=True):
    """A note: its Markdown `body` as written and `body_html`, rendered safely."""

    id: int
    incident_id: str
    body: str
    body_html: str
    visibility: Visibility
    author: str
    author_user_id: UUID | None
    created_at: datetime
    updated_at: datetime
    edit_count: int
    # The earlier bodies, oldest first: in the answer about one note only.
    history: list[NoteRevision] | msgspec.UnsetType = msgspec.UNSET

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Note:
        return cls(
            id=row["id"],
            incident_id=row["incident_id"],
            body=row["body"],
            body_html=render(row["body"]),
            visibility=Visibility(row["visibility"]),
            author=row["author"],
            author_user_id=row["author_user_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            edit_count=row["edit_count"],
        )
