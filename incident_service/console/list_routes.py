"""The incident list (the console's home page): filters, search, paging, and live updates
from the event feed over server-sent events.

The filter form is a plain GET form; with htmx it swaps only the results and keeps the
URL. The stream (`/ui/incidents/stream`) says `changed` when an incident the caller can
see has new events; the results then reload themselves with the same filters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template

from incident_service.console.pages import page
from incident_service.errors import bad_field
from incident_service.events import service as events
from incident_service.incidents import service as incidents
from incident_service.principal import Principal
from incident_service.routing import Conn
from incident_service.search import service as search
from incident_service.vocabulary import IncidentSeverity, IncidentStatus

PAGE_SIZE = 50
# A stream ends after this long and the browser's EventSource opens a new one: no stream
# outlives a deploy's graceful shutdown by more than this.
STREAM_LIFE_S = 25.0
Text = Annotated[str | None, QueryParameter(max_length=200)]


def _choice(name: str, value: str | None, allowed: list[str]) -> str | None:
    """A filter's value, one of `allowed` (a 400 naming the filter otherwise)."""
    if not value:
        return None
    if value not in allowed:
        raise bad_field(name, f"one of {', '.join(allowed)}")
    return value


_STATUSES = [s.value for s in IncidentStatus]
_SEVERITIES = [s.value for s in IncidentSeverity]


class IncidentListPages(Controller):
    path = "/ui"
    include_in_schema = False

    @get("/")
    async def incident_list(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: NamedDependency[Principal],
        status: Text = None,
        severity: Text = None,
        team: Text = None,
        service: Text = None,
        q: Annotated[str | None, QueryParameter(max_length=500)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Template:
        filters = {
            "status": _choice("status", status, _STATUSES),
            "severity": _choice("severity", severity, _SEVERITIES),
        }
        asked = {k: v for k, v in {"status": status, "severity": severity, "team": team,
                                   "service": service, "q": q}.items() if v}  # fmt: skip
        narrowed, possible = principal.narrowed(team or None)
        items: list[Any] = []
        hits: list[Any] = []
        next_cursor = None
        if possible and q and q.strip():
            found = await search.search(
                conn,
                q,
                filters={**filters, "assigned_team": narrowed},
                cursor=cursor,
                limit=PAGE_SIZE,
            )
            hits, next_cursor = found.items, found.next_cursor
        elif possible:
            listed = await incidents.list_incidents(
                conn,
                filters={**filters, "assigned_team": narrowed, "affected_service": service or None},
                cursor=cursor,
                limit=PAGE_SIZE,
            )
            items, next_cursor = listed.items, listed.next_cursor
        context = {
            "incidents": items,
            "hits": hits,
            "searching": bool(q and q.strip()),
            "asked": asked,
            "next_cursor": next_cursor,
            "statuses": _STATUSES,
            "severities": _SEVERITIES,
        }
        return page(request, "incidents.html", context)

    @get("/incidents/stream")
    async def stream(self, state: State, principal: NamedDependency[Principal]) -> ServerSentEvent:
        """`changed` whenever an incident the caller may see has new events. A pooled
        connection is held only for each look at the feed, never while waiting."""
        pool = state.db_pool
        every = state.settings.console_stream_s
        team = principal.team

        async def changes() -> AsyncIterator[ServerSentEventMessage]:
            async with pool.connection() as conn:
                position = await events.head(conn)
            ends = time.monotonic() + STREAM_LIFE_S
            while time.monotonic() < ends:
                await asyncio.sleep(every)
                async with pool.connection() as conn:
                    position, changed = await events.changed_incidents(
                        conn, after=position, team=team
                    )
                if changed:
                    yield ServerSentEventMessage(
                        event="changed", data=" ".join(sorted(changed)[:50]), retry=1000
                    )

        return ServerSentEvent(changes(), headers={"Cache-Control": "no-store"})
