"""HTTP route of full-text search (`/api/v1/search`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote_to_bytes

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from incident_service.auth.schemas import Principal
from incident_service.db import AsyncConn
from incident_service.errors import ValidationFailed
from incident_service.incidents.routes import _utc
from incident_service.routing import paged
from incident_service.search import service
from incident_service.search.schemas import SearchHit, SearchSeverity, SearchStatus
from incident_service.text import EARLIEST, LATEST

_INSTANT = (
    f"ISO 8601 date or date-time from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}; "
    "without an offset it is UTC"
)


def _refuse_undecodable(query_string: bytes) -> None:
    """Query values whose bytes are not UTF-8: the framework would search for U+FFFD
    replacement characters in their place, silently."""
    bad = []
    for part in query_string.split(b"&"):
        key, _, value = part.partition(b"=")
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            bad.append(unquote_to_bytes(key).decode("utf-8", "replace"))
    if bad:
        msg = "query parameters must be valid UTF-8"
        errors = [{"key": k, "message": "not valid UTF-8", "source": "query"} for k in bad]
        raise ValidationFailed(msg, errors)


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["incidents"]

    @get(
        "/",
        summary="Search incidents, notes, timeline entries, alerts and post-mortems",
        description='Full-text search (`q` in web-search syntax: words, "a phrase", '
        "`or`, `-word`), best match first. Each hit names what matched and its incident, "
        "with a plain-text `snippet`, the `highlights` in it (code-point offsets) and the "
        "same snippet as escaped HTML with `<mark>`. `team`, `status` and `severity` "
        "filter on the incident; `from` (inclusive) and `to` (exclusive) on when the "
        "matched text was written. When more hits exist, a `Link` header with "
        '`rel="next"` carries the URL of the next page (an opaque `cursor`).',
    )
    async def search(
        self,
        request: Request[object, object, State],
        conn: NamedDependency[AsyncConn],
        principal: NamedDependency[Principal],
        q: Annotated[str, QueryParameter(min_length=1, max_length=1000)],
        team: Annotated[str | None, QueryParameter(min_length=1, max_length=100)] = None,
        status: Annotated[SearchStatus | None, QueryParameter()] = None,
        severity: Annotated[SearchSeverity | None, QueryParameter()] = None,
        from_: Annotated[
            str | None, QueryParameter(name="from", max_length=40, description=_INSTANT)
        ] = None,
        to: Annotated[str | None, QueryParameter(max_length=40, description=_INSTANT)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=300)] = None,
    ) -> Response[list[SearchHit]]:
        _refuse_undecodable(request.scope["query_string"])
        team, possible = principal.narrowed(team)
        if not possible:
            return Response([])
        filters = {
            "assigned_team": team,
            "status": status,
            "severity": severity,
            "from": _utc("from", from_),
            "to": _utc("to", to),
        }
        page = await service.search(conn, q, filters=filters, cursor=cursor, limit=limit)
        return paged(request, self.path, page)
