"""SQL for incident notes. No business rules here.

A note's write is one statement: the note (or its edit, with the body it replaces kept in
`incident_note_edits`), its timeline entry and its outbox event (`incident_service.changes`).
The incident must be visible to the caller's team, in the same SQL.
"""

from __future__ import annotations

from typing import Any

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql, fetch_all, fetch_one

_COLUMNS = (
    "id, incident_id, body, visibility, author, author_user_id, created_at, updated_at, edit_count"
)
_NOTE_COLUMNS = ", ".join(f"n.{c.strip()}" for c in _COLUMNS.split(","))


def _recorded(
    kind: str, event_type: str, *, source: str, actor: str, user_id: str, at: str, **said: str
) -> tuple[str, str]:
    """The timeline entry and the outbox event of a note's change (the rows of `source`):
    both name the note, its visibility and body; `said` adds the event's own fields."""
    entry = timeline_entry(
        kind,
        source=source,
        actor=actor,
        note="body",
        details=json_object("visibility", note_id="id", user_id=user_id),
        occurred_at=at,
    )
    payload = json_object("incident_id", "visibility", "body", note_id="id", **said)
    return entry, outbox_event(event_type, source=source, payload=payload, created_at=at)


_ADDED_ENTRY, _ADDED_EVENT = _recorded(
    "note",
    "incident_note_added",
    source="note",
    actor="author",
    user_id="author_user_id",
    at="created_at",
    author="author",
    author_user_id="author_user_id",
)
_EDITED_ENTRY, _EDITED_EVENT = _recorded(
    "note_edited",
    "incident_note_edited",
    source="upd",
    actor="%(editor)s::text",
    user_id="%(user_id)s::uuid",
    at="updated_at",
    edit_count="edit_count",
    editor="%(editor)s::text",
    editor_user_id="%(user_id)s::uuid",
)

_ADD = compact_sql(f"""
with inc as (
    select incident_id from incidents
    where incident_id = %(incident_id)s
      and (%(team)s::text is null or assigned_team = %(team)s::text)
), note as (
    insert into incident_notes (incident_id, body, visibility, author, author_user_id)
    select incident_id, %(body)s, %(visibility)s, %(author)s, %(user_id)s::uuid from inc
    returning {_COLUMNS}
), timeline as ({_ADDED_ENTRY}
), event as ({_ADDED_EVENT}
)
select {_COLUMNS} from note
""")

# The CTEs see the table as it was before the statement: `kept` stores the body `upd`
# replaces.
_EDIT = compact_sql(f"""
with kept as (
    insert into incident_note_edits (note_id, previous_body, edited_by, edited_by_user_id)
    select id, body, %(editor)s, %(user_id)s::uuid from incident_notes
    where id = %(note_id)s and incident_id = %(incident_id)s
), upd as (
    update incident_notes set body = %(body)s, updated_at = now(), edit_count = edit_count + 1
    where id = %(note_id)s and incident_id = %(incident_id)s
    returning {_COLUMNS}
), timeline as ({_EDITED_ENTRY}
), event as ({_EDITED_EVENT}
)
select {_COLUMNS} from upd
""")


async def add_note(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any] | None:
    """The new note; None when the incident is not there for `team`."""
    return await fetch_one(conn, _ADD, values)


async def get_note(
    conn: AsyncConn, incident_id: str, note_id: int, team: str | None, *, for_update: bool = False
) -> dict[str, Any] | None:
    lock = " for update of n" if for_update else ""
    return await fetch_one(
        conn,
        f"select {_NOTE_COLUMNS} from incident_notes n"
        " join incidents i on i.incident_id = n.incident_id"
        " where n.id = %s and n.incident_id = %s and (%s::text is null or i.assigned_team = %s)"
        f"{lock}",
        (note_id, incident_id, team, team),
    )


async def edit_note(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any]:
    row = await fetch_one(conn, _EDIT, values)
    assert row is not None  # the caller locked the note
    return row


async def history(conn: AsyncConn, note_id: int) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select previous_body, edited_by, edited_by_user_id, edited_at from incident_note_edits"
        " where note_id = %s order by id",
        (note_id,),
    )


async def list_notes(
    conn: AsyncConn, incident_id: str, team: str | None, *, after: int, limit: int
) -> list[dict[str, Any]] | None:
    """Oldest first, after the note id `after`; None when the incident is not there."""
    if (
        await fetch_one(
            conn,
            "select incident_id from incidents where incident_id = %s"
            " and (%s::text is null or assigned_team = %s)",
            (incident_id, team, team),
        )
        is None
    ):
        return None
    return await fetch_all(
        conn,
        f"select {_COLUMNS} from incident_notes where incident_id = %s and id > %s"
        " order by id limit %s",
        (incident_id, after, limit),
    )
