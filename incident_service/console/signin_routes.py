"""Signing in and out of the console.

Without an identity provider a person signs in with an API key (the one `make run`
prints): the session acts as that key. The pages are public; the session cookie is
HttpOnly, SameSite=Lax and Secure unless `SESSION_COOKIE_SECURE` is false.
"""

from __future__ import annotations

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


def local_next(value: str | None) -> str:
    """Where to go after signing in: a console path of ours only (never another site's:
    `//evil.example` and `/\\evil.example` are absolute to a browser)."""
    if not value or not value.startswith("/ui/") or "\\" in value or value.startswith("//"):
        return "/ui/"
    return value


def _login_page(
    request: Request[Any, Any, Any], next_path: str, error: str = "", status_code: int = 200
) -> Template:
    return page(
        request,
        "login.html",
        {"next": local_next(next_path), "error": error},
        status_code=status_code,
    )


@get(LOGIN_PATH, opt={"public": True}, include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: str | None = None) -> Template:
    return _login_page(request, next or "/ui/")


@post(LOGIN_PATH, opt={"public": True}, include_in_schema=False, status_code=303)
async def login(
    request: Request[Any, Any, Any],
    conn: Conn,
    data: Annotated[dict[str, str], _FORM],
) -> Response[Any]:
    next_path = local_next(data.get("next"))
    if not sessions.from_this_site(request.headers):
        return _login_page(request, next_path, "Sign in from this site's own page.", 403)
    key = (data.get("api_key") or "").strip()
    if not key:
        return _login_page(request, next_path, "Enter an API key.", 400)
    settings = request.app.state.settings
    opened = await sessions.sign_in_with_key(conn, key, ttl_s=settings.session_ttl_s)
    if isinstance(opened, Refused):
        return _login_page(request, next_path, opened.reason, 401)
    if opened is None:
        return _login_page(request, next_path, "That API key is unknown or revoked.", 401)
    _, session = opened
    response: Response[Any] = Redirect(next_path, status_code=303)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        session.token,
        max_age=int(settings.session_ttl_s),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
    )
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
