"""Console sessions: sign in with an API key, the cookie, CSRF on writes, logout, expiry,
the sign-in redirects and the error pages."""

from __future__ import annotations

import psycopg
import pytest

from incident_service.app import create_app
from incident_service.auth.sessions import SESSION_COOKIE, hash_token
from incident_service.config import Settings
from incident_service.console.signin_routes import safe_next
from testkit.databases import make_api_key
from tests.auth.conftest import sign_in
from tests.conftest import new_incident


@pytest.fixture
def writer_key(database_url: str, team: str) -> str:
    return make_api_key(
        database_url,
        name="session writer",
        scopes=["incidents:read", "incidents:write"],
        team=team,
        rate_limit=100_000,
    )


async def test_unsigned_page_redirects_to_login_with_next(browser) -> None:  # type: ignore[no-untyped-def]
    answer = await browser.get("/ui/?status=open")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/%3Fstatus%3Dopen"
    htmx = await browser.get("/ui/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/ui/login"
    form = await browser.get("/ui/login?next=/ui/")
    assert form.status_code == 200
    assert 'name="api_key"' in form.text and '<label for="api_key">' in form.text


async def test_sign_in_with_a_key_opens_a_session(browser, writer_key, database_url, team) -> None:  # type: ignore[no-untyped-def]
    answer = await browser.post(
        "/ui/login", data={"api_key": writer_key, "next": "/ui/incidents/INC-1?tab=notes"}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/incidents/INC-1?tab=notes"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax"):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # this app runs with COOKIE_SECURE=false
    token = browser.cookies[SESSION_COOKIE]
    # Only the hash is stored, never the token.
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select id_sha256, expires_at - created_at as ttl from sessions where id_sha256 = %s",
            (hash_token(token),),
        ).fetchone()
        assert row is not None
        assert row[1].total_seconds() == pytest.approx(12 * 3600)
        assert conn.execute(
            "select count(*) from sessions where id_sha256 = %s", (token,)
        ).fetchone() == (0,)
    home = await browser.get("/ui/")
    assert home.status_code == 200
    assert "session writer" in home.text and team in home.text
    me = await browser.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["team"] == team


async def test_cookie_is_secure_by_default(settings: Settings, writer_key: str) -> None:
    from litestar.testing import AsyncTestClient

    assert settings.cookie_secure
    async with AsyncTestClient(app=create_app(settings)) as client:
        answer = await client.post(
            "/ui/login", data={"api_key": writer_key}, follow_redirects=False
        )
        assert answer.status_code == 303
        assert "; secure" in answer.headers["set-cookie"].lower()


async def test_writes_need_the_csrf_token(browser, writer_key, team) -> None:  # type: ignore[no-untyped-def]
    csrf = await sign_in(browser, writer_key)
    body = new_incident(team)
    missing = await browser.post("/api/v1/incidents", json=body)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["detail"]
    wrong = await browser.post("/api/v1/incidents", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403 and "does not match" in wrong.json()["detail"]
    cross = await browser.post(
        "/api/v1/incidents",
        json=body,
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "Origin" in cross.json()["detail"]
    fetch_site = await browser.post(
        "/api/v1/incidents",
        json=body,
        headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
    )
    assert fetch_site.status_code == 403 and "cross-site" in fetch_site.json()["detail"]
    ok = await browser.post(
        "/api/v1/incidents",
        json=body,
        headers={"X-CSRF-Token": csrf, "Origin": "http://testserver.local"},
    )
    assert ok.status_code == 201, ok.text
    # A plain form post carries the token as a field (logout is one).
    out = await browser.post("/ui/logout", data={"_csrf_token": "nope"})
    assert out.status_code == 403
    assert (await browser.get("/ui/")).status_code == 200


async def test_api_keys_need_no_csrf_token(client, team) -> None:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201


async def test_logout_ends_the_session_server_side(browser, writer_key, database_url) -> None:  # type: ignore[no-untyped-def]
    csrf = await sign_in(browser, writer_key)
    token = browser.cookies[SESSION_COOKIE]
    out = await browser.post("/ui/logout", data={"_csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select ended_at is not null, ended_by from sessions where id_sha256 = %s",
            (hash_token(token),),
        ).fetchone()
    assert row == (True, "session writer")
    # The old cookie, replayed, opens nothing.
    browser.cookies.set(SESSION_COOKIE, token)
    assert (await browser.get("/ui/")).status_code == 303
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_revoking_the_key_ends_its_sessions(browser, client, writer_key) -> None:  # type: ignore[no-untyped-def]
    await sign_in(browser, writer_key)
    me = (await browser.get("/api/v1/me")).json()
    revoked = await client.delete(f"/api/v1/api-keys/{me['key_id']}")
    assert revoked.status_code == 200, revoked.text
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_expired_and_idle_sessions_end(browser, writer_key, database_url) -> None:  # type: ignore[no-untyped-def]
    await sign_in(browser, writer_key)
    token_hash = hash_token(browser.cookies[SESSION_COOKIE])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update sessions set last_seen_at = now() - interval '2 hours' where id_sha256 = %s",
            (token_hash,),
        )
    assert (await browser.get("/api/v1/me")).status_code == 401  # idle past 60 minutes
    await sign_in(browser, writer_key)
    token_hash = hash_token(browser.cookies[SESSION_COOKIE])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update sessions set expires_at = now() - interval '1 second' where id_sha256 = %s",
            (token_hash,),
        )
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_failed_sign_in_says_why_and_opens_nothing(browser) -> None:  # type: ignore[no-untyped-def]
    empty = await browser.post("/ui/login", data={"api_key": ""})
    assert empty.status_code == 400 and "enter an API key" in empty.text
    bad = await browser.post("/ui/login", data={"api_key": "isk_not-a-key", "next": "/ui/x"})
    assert bad.status_code == 401
    assert "not valid" in bad.text and 'value="/ui/x"' in bad.text
    assert SESSION_COOKIE not in browser.cookies


async def test_failed_sign_ins_are_limited(http_settings: Settings) -> None:
    from litestar.testing import AsyncTestClient

    strict = http_settings.model_copy(update={"login_failures_per_min": 2})
    async with AsyncTestClient(app=create_app(strict)) as client:
        for _ in range(2):
            answer = await client.post("/ui/login", data={"api_key": "isk_wrong"})
            assert answer.status_code == 401
        limited = await client.post("/ui/login", data={"api_key": "isk_wrong"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many failed sign-ins" in limited.text


async def test_cross_site_sign_in_is_refused(browser, writer_key) -> None:  # type: ignore[no-untyped-def]
    answer = await browser.post(
        "/ui/login", data={"api_key": writer_key}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/ui/incidents/INC-1", "/ui/incidents/INC-1"),
        ("/ui/?q=a", "/ui/?q=a"),
        ("https://evil.example/ui/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/ui/\\evil", "/ui/"),
        ("/api/v1/incidents", "/ui/"),
        ("/ui//evil.example", "/ui//evil.example"),
        ("", "/ui/"),
    ],
)
def test_next_is_a_local_console_path(given: str, expected: str) -> None:
    assert safe_next(given) == expected


async def test_domain_errors_are_pages_for_people(browser, writer_key) -> None:  # type: ignore[no-untyped-def]
    await sign_in(browser, writer_key)
    # A page route raising a domain error: HTML for a browser, JSON for a script.
    html = await browser.get(
        "/ui/logout", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert html.status_code == 405
    as_html = await browser.post("/ui/logout", data={}, headers={"Accept": "text/html,*/*;q=0.8"})
    assert as_html.status_code == 403
    assert as_html.headers["content-type"].startswith("text/html")
    assert "CSRF" in as_html.text and "<h1>403" in as_html.text
    fragment = await browser.post("/ui/logout", data={}, headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and fragment.text.startswith('<div class="problem"')
    as_json = await browser.post("/ui/logout", data={}, headers={"Accept": "application/json"})
    assert as_json.status_code == 403 and "CSRF" in as_json.json()["detail"]
    api = await browser.get("/api/v1/incidents/INC-19990101-001", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
