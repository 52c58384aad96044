"""Signing in and out of the console.

Without an identity provider a person signs in with an API key (the one `make run`
prints): the session acts as that key. The pages are public; the session cookie is
HttpOnly, SameSite=Lax and Secure unless `SESSION_COOKIE_SECURE` is false.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from incident_service.auth import sessions
from incident_service.auth.service import Refused
from incident_service.console.pages import page
from incident_service.principal import Principal
from incident_service.routing import Conn

LOGIN_PATH = "/ui/login"
_FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
# A failed sign-in is answered this much later: guessing keys gets slow even below the limit.
_FAILURE_DELAY_S = 0.25


class LoginThrottle:
    """Failed sign-ins per client address, in this process: past `per_min` in a minute,
    the address waits (429 with Retry-After) until its oldest failure is a minute old."""

    def __init__(self, per_min: int) -> None:
        self._per_min = per_min
        self._failures: dict[str, deque[float]] = {}

    def wait(self, client: str) -> float:
        failures = self._failures.get(client)
        now = time.monotonic()
        while failures and failures[0] < now - 60:
            failures.popleft()
        if not failures or len(failures) < self._per_min:
            return 0.0
        return failures[0] + 60 - now

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(time.monotonic())


def _throttle(request: Request[Any, Any, Any]) -> tuple[LoginThrottle, str]:
    state = request.app.state
    throttle: LoginThrottle | None = state.get("login_throttle")
    if throttle is None:
        throttle = LoginThrottle(state.settings.login_failures_per_min)
        state.login_throttle = throttle
    return throttle, request.client.host if request.client else "unknown"


def set_session_cookie(response: Response[Any], settings: Any, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure unless SESSION_COOKIE_SECURE=false."""
    response.set_cookie(
        sessions.SESSION_COOKIE,
        token,
        max_age=int(settings.session_ttl_s),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
    )


def local_next(value: str | None) -> str:
    """Where to go after signing in: a console path of ours only (never another site's:
    `//evil.example` and `/\\evil.example` are absolute to a browser)."""
    if not value or not value.startswith("/ui/") or "\\" in value or value.startswith("//"):
        return "/ui/"
    return value


def login_page(
    request: Request[Any, Any, Any], next_path: str, error: str = "", status_code: int = 200
) -> Template:
    """The sign-in page (with "Sign in with <issuer>" when OIDC is configured)."""
    settings = request.app.state.settings
    issuer = settings.oidc_issuer if settings.oidc_client_id else None
    return page(
        request,
        "login.html",
        {"next": local_next(next_path), "error": error, "oidc_issuer": issuer},
        status_code=status_code,
    )


@get(LOGIN_PATH, opt={"public": True}, include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: str | None = None) -> Template:
    return login_page(request, next or "/ui/")


@post(LOGIN_PATH, opt={"public": True}, include_in_schema=False, status_code=303)
async def login(
    request: Request[Any, Any, Any],
    conn: Conn,
    data: Annotated[dict[str, str], _FORM],
) -> Response[Any]:
    next_path = local_next(data.get("next"))
    if not sessions.from_this_site(request.headers):
        return login_page(request, next_path, "Sign in from this site's own page.", 403)
    key = (data.get("api_key") or "").strip()
    if not key:
        return login_page(request, next_path, "Enter an API key.", 400)
    settings = request.app.state.settings
    throttle, client = _throttle(request)
    wait = throttle.wait(client)
    if wait > 0:
        page_ = login_page(
            request, next_path, "Too many failed sign-ins from here: wait a minute.", 429
        )
        page_.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return page_
    opened = await sessions.sign_in_with_key(conn, key, ttl_s=settings.session_ttl_s)
    if opened is None or isinstance(opened, Refused):
        throttle.failed(client)
        await asyncio.sleep(_FAILURE_DELAY_S)
        why = opened.reason if opened else "That API key is unknown or revoked."
        return login_page(request, next_path, why, 401)
    _, session = opened
    response: Response[Any] = Redirect(next_path, status_code=303)
    set_session_cookie(response, settings, session.token)
    return response


@post("/ui/logout", opt={"any_scope": True}, include_in_schema=False, status_code=303)
async def logout(
    request: Request[Any, Any, Any], conn: Conn, principal: NamedDependency[Principal]
) -> Redirect:
    token = request.cookies.get(sessions.SESSION_COOKIE)
    if token:
        await sessions.end_session(conn, token, actor=principal.name)
        request.app.state.authenticator.forget_session(token)
    response = Redirect(LOGIN_PATH, status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


SIGNIN_ROUTES = [login_form, login, logout]
