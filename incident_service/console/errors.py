"""The console's answer to a domain error (`errors.py`): a person at a browser is sent to
sign in when the session is missing or over, and reads other errors as a page (or, for an
htmx request, as a fragment it swaps in), with the same message and fields the API gives.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.response import Redirect

from incident_service.console.assets import STATIC_PATH
from incident_service.console.pages import page
from incident_service.console.signin_routes import LOGIN_PATH
from incident_service.errors import IncidentError

CONSOLE_PREFIX = "/ui/"


def console_error(request: Request[Any, Any, Any], exc: IncidentError) -> Response[Any] | None:
    """The console's answer, or None for a request that is not a console page's (the
    API's JSON answer stands)."""
    path = request.url.path
    if path == CONSOLE_PREFIX.rstrip("/"):  # the router's spelling of "/ui/"
        path = CONSOLE_PREFIX
    if not path.startswith(CONSOLE_PREFIX) or path.startswith(STATIC_PATH):
        return None
    htmx = request.headers.get("hx-request") == "true"
    if exc.status_code == 401:
        # After signing in, back to this page (for a write, the page it was made from).
        back = path
        if request.method not in ("GET", "HEAD"):
            back = urlsplit(request.headers.get("hx-current-url", "")).path
        target = f"{LOGIN_PATH}?next={quote(back or '/ui/', safe='/')}"
        if htmx:
            return Response(b"", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    if not htmx and "text/html" not in request.headers.get("accept", ""):
        return None
    body = exc.body()
    fields = body.get("extra") if isinstance(body.get("extra"), list) else []
    return page(
        request,
        "error.html",
        {"status": exc.status_code, "title": exc.title, "detail": exc.message, "fields": fields},
        status_code=exc.status_code,
    )
