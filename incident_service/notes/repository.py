"""SQL for incident notes. No business rules here.

A note's write is one statement: the note (or its edit, with the body it replaces kept in
`incident_note_edits`), its timeline entry and its outbox event (`incident_service.changes`).
The incident must be visible to the caller's team, in the same SQL.
"""

from __future__ import annotations

from typing import Any

from incident_service.changes import json_object, outbox_event, timeline_entry
from incident_service.db import AsyncConn, compact_sql

_COLUMNS = (
    "id, incident_id, body, visibility, author, author_user_id, created_at, updated_at, edit_count"
)
_NOTE_COLUMNS = ", ".join(f"n.{c.strip()}" for c in _COLUMNS.split(","))

_ADDED_ENTRY = timeline_entry(
    "note",
    source="note",
    actor="author",
    note="body",
    details=json_object("visibility", note_id="id", user_id="author_user_id"),
    occurred_at="created_at",
)
_ADDED_EVENT = outbox_event(
    "incident_note_added",
    source="note",
    payload=json_object(
        "incident_id",
        "visibility",
        "body",
        "author",
        note_id="id",
        author_user_id="author_user_id",
    ),
    created_at="created_at",
)
_EDITED_ENTRY = timeline_entry(
    "note_edited",
    source="upd",
    actor="%(editor)s::text",
    note="body",
    details=json_object("visibility", note_id="id", user_id="%(user_id)s::uuid"),
    occurred_at="updated_at",
)
_EDITED_EVENT = outbox_event(
    "incident_note_edited",
    source="upd",
    payload=json_object(
        "incident_id",
        "visibility",
        "body",
        "edit_count",
        note_id="id",
        editor="%(editor)s::text",
        editor_user_id="%(user_id)s::uuid",
    ),
    created_at="updated_at",
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
    cur = await conn.execute(_ADD, values)
    return await cur.fetchone()


async def get_note(
    conn: AsyncConn, incident_id: str, note_id: int, team: str | None, *, for_update: bool = False
) -> dict[str, Any] | None:
    lock = " for update of n" if for_update else ""
    cur = await conn.execute(
        f"select {_NOTE_COLUMNS} from incident_notes n"
        " join incidents i on i.incident_id = n.incident_id"
        " where n.id = %s and n.incident_id = %s and (%s::text is null or i.assigned_team = %s)"
        f"{lock}",
        (note_id, incident_id, team, team),
    )
    return await cur.fetchone()


async def edit_note(conn: AsyncConn, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(_EDIT, values)
    row = await cur.fetchone()
    assert row is not None  # the caller locked the note
    return row


async def history(conn: AsyncConn, note_id: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select previous_body, edited_by, edited_by_user_id, edited_at from incident_note_edits"
        " where note_id = %s order by id",
        (note_id,),
    )
    return await cur.fetchall()


async def list_notes(
    conn: AsyncConn, incident_id: str, team: str | None, *, after: int, limit: int
) -> list[dict[str, Any]] | None:
    """Oldest first, after the note id `after`; None when the incident is not there."""
    cur = await conn.execute(
        "select incident_id from incidents where incident_id = %s"
        " and (%s::text is null or assigned_team = %s)",
        (incident_id, team, team),
    )
    if await cur.fetchone() is None:
        return None
    cur = await conn.execute(
        f"select {_COLUMNS} from incident_notes where incident_id = %s and id > %s"
        " order by id limit %s",
        (incident_id, after, limit),
    )
    return await cur.fetchall()
