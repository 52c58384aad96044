"""Domain errors on console pages: a person gets a page, a script keeps its JSON.

For a request under `/ui/` (`app.py` asks here first):
- not signed in (401) on a GET/HEAD: 303 to the sign-in page, coming back afterwards; an
  htmx request instead gets 401 with `HX-Redirect: /ui/login` (htmx then navigates);
- any other error, when the request's Accept prefers HTML: a small error page (an htmx
  request: a fragment to swap in). Otherwise None, and the API's JSON answer is given.
"""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response
from litestar.response import Redirect

from incident_service.console.pages import HEADERS
from incident_service.console.signin_routes import LOGIN_PATH, login_url

CONSOLE_PREFIX = "/ui/"
_STATIC = "/ui/static/"


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    if request.headers.get("hx-request"):
        return True
    best = request.accept.best_match(["application/json", "text/html"], "application/json")
    return best == "text/html"


def console_error(
    request: Request[Any, Any, Any], status_code: int, title: str, detail: str
) -> Response[Any] | None:
    """The console's answer to an error on a `/ui/` request, or None for JSON."""
    # The router strips a trailing slash from the scope's path: "/ui/" arrives as "/ui".
    raw = request.scope.get("raw_path", b"")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path
    if not f"{path}/".startswith(CONSOLE_PREFIX) or path.startswith(_STATIC):
        return None
    htmx = bool(request.headers.get("hx-request"))
    if status_code == 401:
        if htmx:
            return Response(
                None,
                status_code=401,
                headers={"HX-Redirect": LOGIN_PATH, "Cache-Control": "no-store"},
            )
        if request.method in ("GET", "HEAD"):
            query = request.url.query
            return Redirect(login_url(path + (f"?{query}" if query else "")), status_code=303)
        return Redirect(LOGIN_PATH, status_code=303)
    if not _wants_html(request):
        return None
    state = request.state
    context = {
        "status_code": status_code,
        "title": title,
        "detail": detail,
        "principal": state.get("principal"),
        "csrf": state.get("csrf_token", ""),
        "path": path,
    }
    template = "error_fragment.html" if htmx else "error.html"
    engine = request.app.template_engine
    assert engine is not None  # create_app configures one
    html = engine.get_template(template).render(**context)
    return Response(html, status_code=status_code, media_type=MediaType.HTML, headers=HEADERS)
