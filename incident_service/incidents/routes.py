"""HTTP routes of the incident API (`/api/v1/incidents`)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from incident_service.auth.schemas import Principal
from incident_service.errors import Forbidden, ValidationFailed
from incident_service.incidents import edits, service
from incident_service.incidents.schemas import (
    Incident,
    IncidentCreationRequest,
    IncidentPatch,
    Stale,
    StatusUpdateRequest,
    TimelineEntry,
)
from incident_service.routing import Conn, Cursor, IncidentId, Limit, paged
from incident_service.text import EARLIEST, LATEST, bounded_instant
from incident_service.vocabulary import IncidentSeverity, IncidentStatus

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=200,
        description='The incident\'s ETag as last read (e.g. `"3"`): a later version is a 412',
    ),
]
# The answers that carry an incident carry its version as the ETag.
ETAG = [
    ResponseHeader(
        name="ETag", documentation_only=True, description='The incident\'s version, e.g. `"3"`'
    )
]
STALE = {
    412: ResponseSpec(
        data_container=Stale,
        description="If-Match names a version that is no longer the current one "
        "(`current_version` says which is)",
    )
}


def _versioned(incident: Incident) -> Response[Incident]:
    return Response(incident, headers={"ETag": edits.etag(incident.version)})


# ISO 8601 only: the lax parsers would also take a bare number as a Unix timestamp.
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$"
IsoDateTime = Annotated[
    str | None,
    QueryParameter(
        pattern=_ISO_DATETIME,
        max_length=40,
        description=f"ISO 8601 date or date-time from {EARLIEST:%Y-%m-%d} to before "
        f"{LATEST:%Y-%m-%d}; without an offset it is UTC",
    ),
]


def _utc(name: str, value: str | None) -> datetime | None:
    """Parse an ISO 8601 query value; without an offset it is UTC, never the server's zone.
    Far dates are refused (text.bounded_instant) rather than compared."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        msg = f"invalid {name}"
        error = {"key": name, "message": "not an ISO 8601 date-time", "source": "query"}
        raise ValidationFailed(msg, [error]) from exc
    try:
        return bounded_instant(at)
    except ValueError as exc:
        msg = f"{name} is out of range"
        error = {"key": name, "message": str(exc), "source": "query"}
        raise ValidationFailed(msg, [error]) from exc


class IncidentController(Controller):
    path = "/api/v1/incidents"
    tags = ["incidents"]

    @post(
        "/",
        status_code=201,
        summary="Open an incident",
        description="With an `Idempotency-Key` header, repeating the same request returns "
        "the incident the first one created (header `Idempotent-Replayed: true`); the same "
        "key with a different body is a 409.",
    )
    async def create_incident(
        self,
        request: Request[object, object, State],
        state: State,
        statement_conn: Conn,
        data: JSONBody[IncidentCreationRequest],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)
        ] = None,
    ) -> Response[Incident]:
        # The guard's principal, read directly: as a second dependency beside the connection
        # Litestar would resolve both in an anyio task group (about 5% of this hot path).
        principal: Principal = request.state.principal
        if not principal.sees_team(data.assigned_team):
            msg = f"this API key may only open incidents for team {principal.team!r}"
            raise Forbidden(
                msg,
                extra=[
                    {"key": "assigned_team", "source": "body", "message": "outside this key's team"}
                ],
            )
        create = functools.partial(
            service.create_incident,
            statement_conn,
            data,
            actor=principal.name,
            idempotency_key=idempotency_key,
            api_key_id=principal.key_id,
            policies=state.get("response_policies"),
            scorer=state.get("scorer"),
        )
        if idempotency_key is None:
            created = await create()  # one statement on an autocommit connection
        else:
            async with statement_conn.transaction():  # claim the key, insert, bind it
                created = await create()
        headers = {"Location": f"{self.path}/{created.incident.incident_id}"}
        if created.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(created.incident, status_code=201, headers=headers)

    @get(
        "/",
        summary="List incidents, newest first",
        description="Filters combine with AND. When more rows exist, a `Link` header with "
        '`rel="next"` carries the URL of the next page (an opaque `cursor`).',
    )
    async def list_incidents(
        self,
        request: Request[object, object, State],
        conn: Conn,
        principal: NamedDependency[Principal],
        status: Annotated[IncidentStatus | None, QueryParameter()] = None,
        severity: Annotated[IncidentSeverity | None, QueryParameter()] = None,
        assigned_team: Annotated[str | None, QueryParameter(max_length=100)] = None,
        affected_service: Annotated[str | None, QueryParameter(max_length=200)] = None,
        created_after: IsoDateTime = None,
        created_before: IsoDateTime = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[list[Incident]]:
        assigned_team, possible = principal.narrowed(assigned_team)
        if not possible:
            return Response([])
        filters = {
            "status": status,
            "severity": severity,
            "assigned_team": assigned_team,
            "affected_service": affected_service,
            "created_after": _utc("created_after", created_after),
            "created_before": _utc("created_before", created_before),
        }
        page = await service.list_incidents(conn, filters=filters, cursor=cursor, limit=limit)
        return paged(request, self.path, page)

    @get("/{incident_id:str}", summary="Get one incident", response_headers=ETAG)
    async def get_incident(self, conn: Conn, incident_id: IncidentId) -> Response[Incident]:
        incident = await service.get_incident(conn, incident_id)
        incident.integration_links = await service.integration_links(conn, incident_id)
        return _versioned(incident)

    @patch(
        "/{incident_id:str}",
        summary="Edit an incident",
        description="Changes only the fields given (`assignee`: a user id, or null to "
        "unassign). Each changed field is one `field_changed` timeline entry and one "
        "`incident_updated` event; a field set to its current value records nothing. "
        "With `If-Match`, a version other than the current one is a 412. A severity change "
        "re-scores the incident and asks the response policies again (docs/api.md, "
        '"Editing an incident").',
        response_headers=ETAG,
        responses=STALE,
    )
    async def edit_incident(
        self,
        state: State,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[IncidentPatch],
        if_match: IfMatch = None,
    ) -> Response[Incident]:
        edited = await edits.edit_incident(
            conn,
            incident_id,
            data,
            principal=principal,
            if_match=if_match,
            scorer=state.get("scorer"),
            policies=state.get("response_policies"),
        )
        return _versioned(edited)

    @get("/{incident_id:str}/timeline", summary="Every recorded change and note, oldest first")
    async def get_timeline(self, conn: Conn, incident_id: IncidentId) -> list[TimelineEntry]:
        return await service.timeline(conn, incident_id)

    @put(
        "/{incident_id:str}/status",
        summary="Move an incident along its lifecycle",
        description="A move the lifecycle forbids is a 409 naming the current status and the "
        "allowed ones; the same status again is a 200 that changes nothing (a `note` sent "
        "with it is recorded on the timeline as a `note` entry). With `If-Match`, a "
        "version other than the current one is a 412.",
        response_headers=ETAG,
        responses=STALE,
    )
    async def update_status(
        self,
        state: State,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[StatusUpdateRequest],
        if_match: IfMatch = None,
    ) -> Response[Incident]:
        # The actor is the key's owner; a body `actor` is kept as who it was done for.
        changed = await service.change_status(
            conn,
            incident_id,
            data,
            actor=principal.name,
            scorer=state.get("scorer"),
            if_match=if_match,
            user_id=principal.user_id,
        )
        return _versioned(changed)
