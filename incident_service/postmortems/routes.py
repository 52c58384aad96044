"""HTTP routes: an incident's post-mortem, and the reliability reports folder."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from litestar import Controller, MediaType, Request, Response, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from incident_service.auth.schemas import Principal
from incident_service.errors import Forbidden, NotFound, ValidationFailed
from incident_service.postmortems import html, render, service, states
from incident_service.postmortems.review_routes import PostmortemReviewController
from incident_service.postmortems.schemas import (
    Postmortem,
    PostmortemStateRequest,
    PostmortemVersion,
    ReportFile,
)
from incident_service.routing import Conn, IncidentId

FORMATS = {"json": "json", "markdown": "markdown", "md": "markdown", "html": "html"}
_ACCEPT = {
    "text/html": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "application/json": "json",
}
# Litestar adds "; charset=utf-8" to every text/ type itself.
_MEDIA = {"html": MediaType.HTML, "markdown": "text/markdown"}


def _page_headers(chosen: str) -> dict[str, str] | None:
    # Our pages run their own two scripts only (postmortems.html), and are never framed.
    return {"Content-Security-Policy": html.content_security_policy()} if chosen == "html" else None


_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(html|md)$")


def negotiate(format_param: str | None, accept: str) -> str:
    """`?format=` wins; else the Accept type with the highest q we serve; else JSON."""
    if format_param is not None:
        chosen = FORMATS.get(format_param.lower())
        if chosen is None:
            msg = f"format must be one of {', '.join(sorted(FORMATS))}"
            raise ValidationFailed(msg, [{"key": "format", "message": msg, "source": "query"}])
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media.lower() in _ACCEPT and q > 0:
            ranked.append((-q, position, _ACCEPT[media.lower()]))
    return min(ranked)[2] if ranked else "json"


class PostmortemController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/postmortem"
    tags = ["postmortems"]

    @get(
        "/",
        summary="An incident's post-mortem",
        description="Generated from the record when the incident is resolved (or now, if "
        "the sensor has not run yet), then stored. JSON by default; Markdown or a "
        "self-contained HTML page with `?format=markdown|html` or `Accept: text/markdown` / "
        "`text/html`. 404 for an unknown incident, 409 while it is not resolved. "
        "`?version=N`: a version published before (404 for one never published).",
    )
    async def get_postmortem(
        self,
        request: Request[object, object, State],
        conn: Conn,
        incident_id: IncidentId,
        format: Annotated[str | None, QueryParameter(max_length=20)] = None,
        version: Annotated[int | None, QueryParameter(ge=1, le=1_000_000)] = None,
    ) -> Response[Postmortem | str]:
        chosen = negotiate(format, request.headers.get("accept", ""))
        if version is None:
            postmortem = await service.get_or_generate(conn, incident_id, generated_by="api")
        else:
            postmortem = await states.version(conn, incident_id, version, actor="api")
        if chosen == "json":
            return Response(postmortem, media_type=MediaType.JSON)
        text = render.to_html(postmortem) if chosen == "html" else render.to_markdown(postmortem)
        return Response(text, media_type=_MEDIA[chosen], headers=_page_headers(chosen))

    @put(
        "/state",
        summary="Move a post-mortem: draft -> in_review -> published",
        description="`in_review` goes back to `draft` or is `published`; publishing is a 409 "
        "listing `follow_ups_without_owner` until every follow-up of the incident (those "
        "`wont_do` excepted) has an owner. A published version is frozen and stays readable "
        "(`?version=N`); moving it back to `draft` starts the next version. A move the "
        "table forbids is a 409 naming the allowed ones; the same state again changes "
        "nothing. Recorded on the timeline (`postmortem_state_changed`) with its event.",
    )
    async def change_postmortem_state(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[PostmortemStateRequest],
    ) -> Postmortem:
        return await states.change_state(
            conn, incident_id, data.state, actor=principal.name, note=data.note
        )

    @get("/versions", summary="A post-mortem's versions: every published one and the current")
    async def list_postmortem_versions(
        self, conn: Conn, incident_id: IncidentId
    ) -> list[PostmortemVersion]:
        base = f"/api/v1/incidents/{incident_id}/postmortem"
        return await states.versions(conn, incident_id, actor="api", base=base)


def _reports_dir(state: State, principal: Principal) -> Path:
    # Reliability reports cover every team: a key restricted to one team may not read them.
    if principal.team is not None:
        msg = "reliability reports cover every team; this API key is restricted to one"
        raise Forbidden(msg)
    return Path(state.settings.reports_dir)


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get("/", summary="Reliability reports written by the analytics, newest first")
    async def list_reports(
        self, state: State, principal: NamedDependency[Principal]
    ) -> list[ReportFile]:
        folder = _reports_dir(state, principal)
        if not folder.is_dir():
            return []
        files = [p for p in folder.iterdir() if p.is_file() and _REPORT_NAME.match(p.name)]
        files.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
        return [
            ReportFile(
                name=p.name,
                format="html" if p.suffix == ".html" else "markdown",
                size_bytes=p.stat().st_size,
                modified_at=datetime.fromtimestamp(p.stat().st_mtime, UTC),
                url=f"{self.path}/{p.name}",
            )
            for p in files
        ]

    @get("/{name:str}", summary="One reliability report (HTML or Markdown)")
    async def get_report(
        self,
        state: State,
        principal: NamedDependency[Principal],
        name: Annotated[str, PathParameter(max_length=210)],
    ) -> Response[bytes]:
        # Only names the listing would show, inside the folder: no path can escape it.
        path = _reports_dir(state, principal) / name
        if not _REPORT_NAME.match(name) or not path.is_file():
            msg = f"report {name} does not exist"
            raise NotFound(msg)
        chosen = "html" if path.suffix == ".html" else "markdown"
        return Response(path.read_bytes(), media_type=_MEDIA[chosen], headers=_page_headers(chosen))


POSTMORTEM_ROUTES = [PostmortemController, PostmortemReviewController, ReportController]
