"""Browser-like clients for the console's sessions: no key header, a cookie jar, and the
app on plain http (the cookie is then not `Secure`, as under `make run`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from uuid import UUID

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.rows import dict_row

from incident_service.app import create_app
from incident_service.auth import service, sessions
from incident_service.config import Settings
from incident_service.principal import Role


@pytest.fixture(scope="session")
def http_settings(settings: Settings) -> Settings:
    # No key cache: a role change is seen by the next request (in production, within
    # API_KEY_CACHE_S, as a key's revocation is).
    return settings.model_copy(update={"session_cookie_secure": False, "api_key_cache_s": 0})


@pytest.fixture(scope="session")
async def _browser_app(http_settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(http_settings)) as client:
        client.follow_redirects = False
        yield client


@pytest.fixture
def browser(_browser_app: AsyncTestClient) -> AsyncTestClient:  # type: ignore[type-arg]
    """A client with an empty cookie jar that follows no redirect by itself."""
    _browser_app.cookies.clear()
    return _browser_app


def csrf_of(html: str) -> str:
    """The session's CSRF token as a page carries it (the sign-out form's field)."""
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


async def sign_in(client: AsyncTestClient, key: str) -> str:  # type: ignore[type-arg]
    """Sign in with an API key through the form; the session's CSRF token."""
    answer = await client.post("/ui/login", data={"api_key": key})
    assert answer.status_code == 303, answer.text
    home = await client.get("/ui/")
    assert home.status_code == 200, home.text
    return csrf_of(home.text)


async def open_user_session(
    database_url: str, user_id: str, team: str | None, settings: Settings
) -> sessions.OpenedSession:
    """A session of a directory user as the OIDC callback opens one (through the user's
    console key, with their role's scopes), without an identity provider: the guard's
    rules are what is tested."""
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        cur = await conn.execute("select name, role from users where id = %s", (user_id,))
        user = await cur.fetchone()
        assert user is not None
        key_id = await service.console_key(
            conn,
            user_id=UUID(user_id),
            name=user["name"],
            role=Role(user["role"]),
            team=team,
            actor="tests",
        )
        assert isinstance(key_id, UUID)
        opened = await sessions.open_session(conn, key_id, via="oidc", ttl_s=settings.session_ttl_s)
        await conn.commit()
    return opened
