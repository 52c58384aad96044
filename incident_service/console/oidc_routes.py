"""OIDC sign-in, the console half: `/ui/login/oidc` sends the browser to the issuer,
`/ui/login/oidc/callback` takes it back, checks who it is and opens a session.

Who may sign in: an id_token that `auth/oidc.py` validated, with an `email` (not marked
unverified) in `OIDC_ALLOWED_DOMAINS` (when set). Their groups (`OIDC_GROUPS_CLAIM`) give
the team (`OIDC_GROUP_TEAMS`, the first mapped group in the setting's order) and the role
(`OIDC_GROUP_ROLES`, the highest). Someone whose groups map to no team signs in only as an
admin. The person is the directory's user with that email, created on first sign-in and
added to the team (through the people service: recorded with the actor "OIDC sign-in");
when a group gives a role, the user's role follows it (recorded likewise). Every refusal is
the sign-in page with the reason, and no session.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, get
from litestar.datastructures import Cookie
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from incident_service.auth import oidc, sessions
from incident_service.auth import service as keys
from incident_service.config import Settings
from incident_service.console.signin_routes import local_next, login_page, set_session_cookie
from incident_service.db import AsyncConn
from incident_service.errors import IncidentError
from incident_service.outbound import OutboundPolicy
from incident_service.people import service as people
from incident_service.people.schemas import UserCreate, UserUpdate
from incident_service.principal import ROLE_SCOPES, Principal, Role
from incident_service.routing import Conn

START_PATH = "/ui/login/oidc"
CALLBACK_PATH = "/ui/login/oidc/callback"
_BROWSER_COOKIE = "incident_oidc"
_PENDING_S = 600
_RANK = list(Role)

Query = Annotated[str, QueryParameter(max_length=4000)]
# `state` is a reserved name in handler signatures (the app's state).
StateParam = Annotated[str, QueryParameter(name="state", max_length=4000)]
NextParam = Annotated[str, QueryParameter(name="next", max_length=2000)]


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def provider(request: Request[Any, Any, Any]) -> oidc.OidcProvider | None:
    """The app's configured issuer (None: OIDC is not set up), built on first use."""
    state = request.app.state
    settings: Settings = state.settings
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return None
    found: oidc.OidcProvider | None = state.get("oidc_provider")
    if found is None:
        policy = state.get("outbound_policy") or OutboundPolicy.from_networks(
            settings.outbound_allow_networks
        )
        found = oidc.OidcProvider(settings, policy)
        state.oidc_provider = found
    return found


def _redirect_uri(request: Request[Any, Any, Any]) -> str:
    """Where the issuer sends the browser back: under PUBLIC_URL when set (behind a proxy),
    else this site as the request reached it."""
    settings: Settings = request.app.state.settings
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        return f"{parts.scheme}://{parts.netloc}{CALLBACK_PATH}"
    return f"{request.url.scheme}://{request.url.netloc}{CALLBACK_PATH}"


def _browser_cookie(settings: Settings, value: str | None) -> Cookie:
    return Cookie(
        key=_BROWSER_COOKIE,
        value=value or "",
        max_age=_PENDING_S if value else 0,
        path=START_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _refused(request: Request[Any, Any, Any], why: str, status_code: int = 400) -> Template:
    template = login_page(request, "/ui/", f"Sign-in refused: {why}", status_code)
    template.cookies.append(_browser_cookie(request.app.state.settings, None))
    return template


def _identity(
    settings: Settings, claims: dict[str, Any]
) -> tuple[str, str, str | None, Role | None]:
    """(email, name, team, role) of the claims (role None: no group gives one), or
    SignInRefused saying why not."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        msg = "the identity provider gave no email address"
        raise oidc.SignInRefused(msg)
    if claims.get("email_verified") is False:
        msg = f"the identity provider has not verified {email}"
        raise oidc.SignInRefused(msg)
    domain = email.rsplit("@", 1)[1].lower()
    if settings.oidc_allowed_domains and domain not in settings.oidc_allowed_domains:
        msg = f"accounts of {domain} may not sign in here"
        raise oidc.SignInRefused(msg)
    raw = oidc.claim(claims, settings.oidc_groups_claim)
    groups = {g for g in raw if isinstance(g, str)} if isinstance(raw, list) else set()
    team = next((t for g, t in settings.oidc_group_teams.items() if g in groups), None)
    roles = [Role(r) for g, r in settings.oidc_group_roles.items() if g in groups]
    role = max(roles, key=_RANK.index) if roles else None
    if team is None and role != Role.ADMIN:
        msg = "none of your groups maps to a team here (OIDC_GROUP_TEAMS)"
        raise oidc.SignInRefused(msg)
    name = claims.get("name") or claims.get("preferred_username") or email
    return email, str(name)[:200], team, role


async def _provision(
    conn: AsyncConn, issuer: str, email: str, name: str, team: str | None, role: Role | None
) -> tuple[uuid.UUID, Role]:
    """The directory's user for `email` (created, joined to `team`, role set as the groups
    say), through the people service; SignInRefused for a deactivated user."""
    by = Principal(
        key_id=uuid.UUID(int=0),
        name=f"OIDC sign-in ({issuer})"[:200],
        scopes=ROLE_SCOPES[Role.ADMIN],
        team=None,
        rate_limit=None,
    )
    user = await people.user_by_email(conn, email, by)
    if user is None:
        teams = [team] if team else []
        created = await people.create_user(
            conn, UserCreate(name=name, email=email, teams=teams, role=role or Role.VIEWER), by
        )
        return created.id, created.role
    if not user.active:
        msg = f"the user {email} is deactivated here"
        raise oidc.SignInRefused(msg)
    if team is not None and team not in user.teams:
        await people.add_member(conn, team, user.id, by)
    if role is not None and role != user.role:
        user = await people.update_user(conn, user.id, UserUpdate(role=role), by)
    return user.id, Role(user.role)


class OidcPages(Controller):
    path = START_PATH
    include_in_schema = False

    @get("/", opt={"public": True})
    async def start(
        self, request: Request[Any, Any, Any], conn: Conn, next_path: NextParam = ""
    ) -> Redirect | Template:
        found = provider(request)
        if found is None:
            return login_page(request, "/ui/", "OIDC sign-in is not configured", 404)
        try:
            started = await found.start(_redirect_uri(request))
        except oidc.SignInRefused as exc:
            return _refused(request, str(exc), status_code=502)
        browser = secrets.token_urlsafe(32)
        await conn.execute("delete from oidc_logins where expires_at < now()")
        await conn.execute(
            "insert into oidc_logins (state_sha256, browser_sha256, nonce, code_verifier,"
            " next_path, expires_at) values (%s, %s, %s, %s, %s,"
            " now() + make_interval(secs => %s))",
            (
                _sha(started.state),
                _sha(browser),
                started.nonce,
                started.code_verifier,
                local_next(next_path),
                _PENDING_S,
            ),
        )
        settings: Settings = request.app.state.settings
        return Redirect(started.url, status_code=303, cookies=[_browser_cookie(settings, browser)])

    @get("/callback", opt={"public": True})
    async def callback(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        code: Query = "",
        oauth_state: StateParam = "",
        error: Query = "",
    ) -> Redirect | Template:
        settings: Settings = request.app.state.settings
        found = provider(request)
        if found is None:
            return login_page(request, "/ui/", "OIDC sign-in is not configured", 404)
        # The state is taken whatever follows: it works once.
        cur = await conn.execute(
            "delete from oidc_logins where state_sha256 = %s and expires_at > now()"
            " returning browser_sha256, nonce, code_verifier, next_path",
            (_sha(oauth_state),),
        )
        pending = await cur.fetchone()
        if error:
            return _refused(request, f"the identity provider answered {error[:100]!r}")
        if pending is None or not oauth_state:
            return _refused(
                request, "this sign-in is unknown, expired or already used; start again"
            )
        browser = request.cookies.get(_BROWSER_COOKIE, "")
        if not secrets.compare_digest(_sha(browser), pending["browser_sha256"]):
            return _refused(request, "this sign-in was started in another browser; start again")
        if not code:
            return _refused(request, "the identity provider sent no code")
        try:
            claims = await found.finish(
                _redirect_uri(request), code, pending["code_verifier"], pending["nonce"]
            )
            email, name, team, role = _identity(settings, claims)
        except oidc.SignInRefused as exc:
            return _refused(request, str(exc), status_code=403)
        try:
            async with conn.transaction():
                user_id, user_role = await _provision(conn, found.issuer, email, name, team, role)
                key_id = await keys.console_key(
                    conn,
                    user_id=user_id,
                    name=name,
                    role=user_role,
                    team=team,
                    actor=f"OIDC sign-in ({found.issuer})"[:200],
                )
                if isinstance(key_id, keys.Refused):
                    raise oidc.SignInRefused(key_id.reason)
                opened = await sessions.open_session(
                    conn, key_id, via="oidc", ttl_s=settings.session_ttl_s
                )
        except oidc.SignInRefused as exc:
            return _refused(request, str(exc), status_code=403)
        except IncidentError as exc:  # the mapped team is not in the directory, say
            return _refused(request, exc.message, status_code=403)
        response = Redirect(
            local_next(pending["next_path"]),
            status_code=303,
            cookies=[_browser_cookie(settings, None)],
        )
        set_session_cookie(response, settings, opened.token)
        return response
