"""HTTP routes of incident notes (`/api/v1/incidents/{incident_id}/notes`)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from incident_service.auth.schemas import Principal
from incident_service.notes import service
from incident_service.notes.schemas import Note, NoteCreate, NoteEdit
from incident_service.routing import Conn, Cursor, IncidentId, Limit, RowId, paged


class NoteController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/notes"
    tags = ["incidents"]

    @post(
        "/",
        status_code=201,
        summary="Write a note on an incident",
        description="Markdown (CommonMark); the answer's `body_html` is rendered with raw "
        "HTML escaped and `javascript:` links refused. A timeline entry of kind `note` and "
        "an `incident_note_added` event.",
    )
    async def add_note(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[NoteCreate],
    ) -> Response[Note]:
        note = await service.add_note(conn, incident_id, data, principal=principal)
        return Response(
            note,
            status_code=201,
            headers={"Location": f"/api/v1/incidents/{incident_id}/notes/{note.id}"},
        )

    @get(
        "/",
        summary="An incident's notes, oldest first",
        description='When more notes exist, a `Link` header with `rel="next"` carries the '
        "URL of the next page (an opaque `cursor`).",
    )
    async def list_notes(
        self,
        request: Request[object, object, State],
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[list[Note]]:
        page = await service.list_notes(
            conn, incident_id, principal=principal, cursor=cursor, limit=limit
        )
        path = f"/api/v1/incidents/{incident_id}/notes"
        return paged(request, path, page)

    @get("/{note_id:int}", summary="One note, with its earlier bodies (`history`)")
    async def get_note(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        note_id: RowId,
    ) -> Note:
        return await service.get_note(conn, incident_id, note_id, principal=principal)

    @patch(
        "/{note_id:int}",
        summary="Edit a note (its author only)",
        description="Replaces the body; the one it had is kept in the note's `history`. "
        "Anyone but the note's author (the same user, or the same key name when the key "
        "acts for no user) gets a 403.",
    )
    async def edit_note(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        note_id: RowId,
        data: JSONBody[NoteEdit],
    ) -> Note:
        return await service.edit_note(conn, incident_id, note_id, data, principal=principal)
