"""Signing in and out of the console: `/ui/login` (an API key, or OIDC when configured,
`oidc.py`) and `/ui/logout`. The session itself lives in `auth/sessions.py`."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template
from pydantic import BaseModel, ConfigDict, Field

from incident_service.auth import sessions
from incident_service.auth.service import Refused
from incident_service.config import Settings
from incident_service.console.pages import page
from incident_service.principal import Principal
from incident_service.routing import Conn

LOGIN_PATH = "/ui/login"
HOME = "/ui/"
# A failed sign-in is answered this much later: guessing keys gets slow without the limit.
_FAILURE_DELAY_S = 0.25


class KeySignIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_key: str = Field(default="", max_length=500)
    next: str = Field(default="", max_length=2000)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a local /ui/ path (with its query), else the home page.
    Anything that could leave this site (a scheme, a host, `//`, a backslash) is dropped."""
    if not value or any(c in value for c in "\\\r\n\t") or not value.startswith("/ui/"):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return HOME
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_url(next_path: str | None) -> str:
    target = safe_next(next_path)
    return LOGIN_PATH if target == HOME else f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def session_cookie(settings: Settings, opened: sessions.Opened | None) -> Cookie:
    """The session cookie (None: one that clears it)."""
    return Cookie(
        key=sessions.SESSION_COOKIE,
        value=opened.token if opened else "",
        max_age=opened.max_age_s if opened else 0,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _throttle(request: Request[Any, Any, Any]) -> sessions.LoginThrottle:
    state = request.app.state
    throttle: sessions.LoginThrottle | None = state.get("login_throttle")
    if throttle is None:
        throttle = sessions.LoginThrottle(state.settings.login_failures_per_min)
        state.login_throttle = throttle
    return throttle


def login_page(
    request: Request[Any, Any, Any],
    *,
    next_path: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    settings: Settings = request.app.state.settings
    template = page(
        request,
        "login.html",
        {
            "next": safe_next(next_path) if next_path else "",
            "error": error,
            "oidc_issuer": settings.oidc_issuer if settings.oidc_client_id else None,
        },
        status_code=status_code,
    )
    template.headers.update(headers or {})
    return template


class SignInPages(Controller):
    path = "/ui"
    include_in_schema = False

    @get("/login", opt={"public": True})
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        next_path: Annotated[str, QueryParameter(name="next", max_length=2000)] = "",
    ) -> Template:
        return login_page(request, next_path=next_path)

    @post("/login", opt={"public": True})
    async def login_with_key(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        data: Annotated[KeySignIn, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        settings: Settings = request.app.state.settings
        origin = sessions.own_origin(settings, request.url.scheme, request.url.netloc)
        problem = sessions.cross_site(request.headers, origin)
        if problem is not None:
            return login_page(request, next_path=data.next, error=problem, status_code=403)
        throttle = _throttle(request)
        wait = throttle.wait(_client(request))
        if wait > 0:
            msg = "too many failed sign-ins from this address: wait a minute and try again"
            return login_page(
                request,
                next_path=data.next,
                error=msg,
                status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if not data.api_key.strip():
            msg = "enter an API key"
            return login_page(request, next_path=data.next, error=msg, status_code=400)
        opened = await sessions.open_for_key(conn, data.api_key, settings)
        if not isinstance(opened, sessions.Opened):
            throttle.failed(_client(request))
            await asyncio.sleep(_FAILURE_DELAY_S)
            msg = (
                opened.reason
                if isinstance(opened, Refused)
                else "that API key is not valid (unknown or revoked)"
            )
            return login_page(request, next_path=data.next, error=msg, status_code=401)
        return Redirect(
            safe_next(data.next), status_code=303, cookies=[session_cookie(settings, opened)]
        )

    @post("/logout", opt={"any_scope": True})
    async def logout(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: NamedDependency[Principal],
    ) -> Redirect:
        session_id = request.state.get("session_id")
        if session_id is not None:
            await sessions.end(conn, session_id, principal.name)
        return Redirect(
            LOGIN_PATH, status_code=303, cookies=[session_cookie(request.app.state.settings, None)]
        )
