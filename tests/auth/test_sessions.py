"""Console sign-in with an API key: the session cookie, its CSRF token, its end (logout,
expiry, idleness, a revoked key) and the same rules as the key it acts as."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.auth.service import hash_key
from incident_service.config import Settings
from testkit.databases import make_api_key
from tests.conftest import new_incident

NO_KEY = {"Authorization": ""}


@pytest.fixture
async def browser(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """A client of its own (its own cookie jar), no key, nothing cached between requests."""
    # (Cookies marked Secure would not travel over the test client's http://.)
    quick = settings.model_copy(update={"api_key_cache_s": 0.0, "session_cookie_secure": False})
    async with AsyncTestClient(app=create_app(quick)) as client:
        yield client


async def sign_in(client: AsyncTestClient, key: str, next_path: str = "/ui/") -> str:  # type: ignore[type-arg]
    """Sign in through the form; the session's CSRF token, read off the page."""
    answer = await client.post(
        "/ui/login", data={"api_key": key, "next": next_path}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == next_path
    page = await client.get("/ui/")
    assert page.status_code == 200, page.text
    marker = 'name="_csrf_token" value="'
    assert marker in page.text
    return page.text.split(marker, 1)[1].split('"', 1)[0]


async def test_a_key_opens_a_session_that_acts_as_it(browser, database_url: str, team: str) -> None:
    key = make_api_key(
        database_url, name="console-user", scopes=["incidents:read", "incidents:write"], team=team
    )
    answer = await browser.post("/ui/login", data={"api_key": key}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("incident_session=")
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    token = answer.cookies["incident_session"]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "select token_hash, via, expires_at > now() + interval '11 hours'"
            " from console_sessions where token_hash = %s",
            (hash_key(token),),
        )
        row = await cur.fetchone()
        assert row is not None and row[1] == "api_key" and row[2]
        cur = await conn.execute(
            "select count(*) from console_sessions where token_hash = %s", (token,)
        )
        assert (await cur.fetchone())[0] == 0  # only the hash is kept
    # The cookie alone reads pages and the API, as the key would.
    assert (await browser.get("/ui/")).status_code == 200
    listed = await browser.get("/api/v1/incidents")
    assert listed.status_code == 200, listed.text


async def test_writes_need_the_csrf_token_and_record_the_keys_name(
    browser, database_url: str, team: str
) -> None:
    key = make_api_key(
        database_url, name="csrf-user", scopes=["incidents:read", "incidents:write"], team=team
    )
    csrf = await sign_in(browser, key)
    refused = await browser.post("/api/v1/incidents", json=new_incident(team))
    assert refused.status_code == 403
    assert refused.json()["extra"][0]["key"] == "_csrf_token"
    wrong = await browser.post(
        "/api/v1/incidents", json=new_incident(team), headers={"X-CSRF-Token": csrf[:-2] + "xx"}
    )
    assert wrong.status_code == 403
    other_site = await browser.post(
        "/api/v1/incidents",
        json=new_incident(team),
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    assert other_site.json()["extra"][0]["key"] == "Origin"
    created = await browser.post(
        "/api/v1/incidents", json=new_incident(team), headers={"X-CSRF-Token": csrf}
    )
    assert created.status_code == 201, created.text
    iid = created.json()["incident_id"]
    timeline = await browser.get(f"/api/v1/incidents/{iid}/timeline")
    assert timeline.status_code == 200, timeline.text
    assert "csrf-user" in timeline.text


async def test_a_session_keeps_to_its_keys_team_and_scopes(
    browser, client, database_url: str, team: str
) -> None:
    theirs = await client.post("/api/v1/incidents", json=new_incident(f"{team}-b"))
    assert theirs.status_code == 201
    their_id = theirs.json()["incident_id"]
    key = make_api_key(database_url, name="reader", scopes=["incidents:read"], team=team)
    csrf = await sign_in(browser, key)
    assert (await browser.get(f"/api/v1/incidents/{their_id}")).status_code == 404
    listed = (await browser.get("/api/v1/incidents", params={"assigned_team": f"{team}-b"})).json()
    assert not listed["incidents"] if isinstance(listed, dict) else not listed
    write = await browser.post(
        "/api/v1/incidents", json=new_incident(team), headers={"X-CSRF-Token": csrf}
    )
    assert write.status_code == 403  # a read-only key's session cannot write


async def test_logout_ends_the_session_everywhere(browser, database_url: str, team: str) -> None:
    key = make_api_key(database_url, name="leaving", scopes=["incidents:read"], team=team)
    csrf = await sign_in(browser, key)
    token = browser.cookies["incident_session"]
    without = await browser.post("/ui/logout", data={}, follow_redirects=False)
    assert without.status_code == 403  # logging someone out is a write too
    out = await browser.post("/ui/logout", data={"_csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "select ended_at is not null, ended_by from console_sessions where token_hash = %s",
            (hash_key(token),),
        )
        assert await cur.fetchone() == (True, "leaving")
    # The old cookie, presented again, opens nothing.
    browser.cookies.set("incident_session", token)
    assert (await browser.get("/api/v1/incidents")).status_code == 401
    page = await browser.get("/ui/", follow_redirects=False)
    assert page.status_code == 303


async def test_sessions_end_when_their_key_is_revoked(
    browser, client, database_url: str, team: str
) -> None:
    key = make_api_key(database_url, name="revoked-soon", scopes=["incidents:read"], team=team)
    await sign_in(browser, key)
    me = (await client.get("/api/v1/api-keys")).json()
    keys = me["api_keys"] if isinstance(me, dict) else me
    key_id = next(k["id"] for k in keys if k["name"] == "revoked-soon")
    assert (await client.delete(f"/api/v1/api-keys/{key_id}")).status_code in (200, 204)
    assert (await browser.get("/api/v1/incidents")).status_code == 401


async def test_sessions_expire_and_idle_out(
    settings: Settings, database_url: str, team: str
) -> None:
    key = make_api_key(database_url, name="brief", scopes=["incidents:read"], team=team)
    for update in ({"session_ttl_s": 1.0}, {"session_idle_s": 1.0}):
        brief = settings.model_copy(
            update={"api_key_cache_s": 0.0, "session_cookie_secure": False, **update}
        )
        async with AsyncTestClient(app=create_app(brief)) as browser:
            await sign_in(browser, key)
            if "session_idle_s" in update:
                # Idle: the last request was seen over a second ago.
                async with await psycopg.AsyncConnection.connect(database_url) as conn:
                    await conn.execute(
                        "update console_sessions set last_seen_at = now() - interval '2 s'"
                        " where token_hash = %s",
                        (hash_key(browser.cookies["incident_session"]),),
                    )
            else:
                await asyncio.sleep(1.2)
            answer = await browser.get("/ui/", follow_redirects=False)
            assert answer.status_code == 303, update
            assert answer.headers["location"] == "/ui/login?next=/ui/"


async def test_signing_in_refuses_clearly_and_never_redirects_away(
    browser, database_url: str, team: str
) -> None:
    empty = await browser.post("/ui/login", data={"api_key": " "})
    assert empty.status_code == 400 and "Enter an API key" in empty.text
    unknown = await browser.post("/ui/login", data={"api_key": "isk_nothing"})
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.text
    assert "incident_session" not in browser.cookies
    key = make_api_key(database_url, name="redirected", scopes=["incidents:read"], team=team)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/api/v1/x"):
        answer = await browser.post(
            "/ui/login", data={"api_key": key, "next": target}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/", target
    cross = await browser.post(
        "/ui/login", data={"api_key": key}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403


async def test_pages_send_a_person_to_sign_in(browser) -> None:
    answer = await browser.get("/ui/?status=OPEN", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/"
    htmx = await browser.get("/ui/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/ui/login")
    form = await browser.get("/ui/login?next=/ui/incidents/INC-1")
    assert form.status_code == 200
    assert 'value="/ui/incidents/INC-1"' in form.text and 'for="api_key"' in form.text
    # The API keeps answering JSON.
    api = await browser.get("/api/v1/incidents")
    assert api.status_code == 401 and api.json()["status_code"] == 401
