"""The rules of incident notes: who may write and edit them, paging, history.

Takes a connection inside the caller's transaction and never commits; knows nothing of HTTP.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from incident_service.auth.schemas import Principal
from incident_service.crud import Page, one_page
from incident_service.db import AsyncConn
from incident_service.errors import Forbidden, NotFound, ValidationFailed, found, missing_incident
from incident_service.notes import repository
from incident_service.notes.schemas import Note, NoteCreate, NoteEdit, NoteRevision


def _not_found(incident_id: str, note_id: int | None = None) -> NotFound:
    if note_id is None:
        return missing_incident(incident_id)
    return NotFound(f"note {note_id} of incident {incident_id} not found")


async def add_note(
    conn: AsyncConn, incident_id: str, request: NoteCreate, *, principal: Principal
) -> Note:
    row = await repository.add_note(
        conn,
        {
            "incident_id": incident_id,
            "team": principal.team,
            "body": request.body,
            "visibility": request.visibility.value,
            "author": principal.name,
            "user_id": principal.user_id,
        },
    )
    return Note.from_row(found(row, _not_found(incident_id)))


def is_author(note: dict[str, Any], principal: Principal) -> bool:
    """The note's author: the same person (user id) when the note names one, else a key
    of the same name that acts for nobody."""
    if note["author_user_id"] is not None:
        return bool(principal.user_id == note["author_user_id"])
    return principal.user_id is None and principal.name == note["author"]


async def get_note(
    conn: AsyncConn, incident_id: str, note_id: int, *, principal: Principal
) -> Note:
    """The note, with its earlier bodies."""
    row = found(
        await repository.get_note(conn, incident_id, note_id, principal.team),
        _not_found(incident_id, note_id),
    )
    note = Note.from_row(row)
    note.history = [NoteRevision(**r) for r in await repository.history(conn, note_id)]
    return note


async def edit_note(
    conn: AsyncConn, incident_id: str, note_id: int, request: NoteEdit, *, principal: Principal
) -> Note:
    """Replace the body, keeping the one it had; only its author may. The same body again
    changes nothing."""
    row = found(
        await repository.get_note(conn, incident_id, note_id, principal.team, for_update=True),
        _not_found(incident_id, note_id),
    )
    if not is_author(row, principal):
        msg = f"note {note_id} was written by {row['author']}; only its author may edit it"
        raise Forbidden(msg)
    if row["body"] != request.body:
        row = await repository.edit_note(
            conn,
            {
                "incident_id": incident_id,
                "note_id": note_id,
                "body": request.body,
                "editor": principal.name,
                "user_id": principal.user_id,
            },
        )
    note = Note.from_row(row)
    note.history = [NoteRevision(**r) for r in await repository.history(conn, note_id)]
    return note


async def list_notes(
    conn: AsyncConn, incident_id: str, *, principal: Principal, cursor: str | None, limit: int
) -> Page[Note]:
    """Oldest first; `cursor` (opaque) continues after the last note of a page."""
    rows = await repository.list_notes(
        conn, incident_id, principal.team, after=decode_cursor(cursor), limit=limit + 1
    )
    if rows is None:
        raise _not_found(incident_id)
    return one_page(rows, limit, lambda last: encode_cursor(last["id"]), Note.from_row)


def encode_cursor(note_id: int) -> str:
    return base64.urlsafe_b64encode(f"note:{note_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The note id a cursor continues after (0: from the first); garbage is a 400."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = raw.partition(":")
        if kind != "note" or not number.isascii() or not number.isdigit() or len(number) > 18:
            raise ValueError(raw)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        msg = "invalid cursor"
        raise ValidationFailed(
            msg, [{"key": "cursor", "message": "not a cursor this API issued", "source": "query"}]
        ) from exc
