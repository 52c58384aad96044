"""Guessing keys at the sign-in form: each failure is answered late, and past
LOGIN_FAILURES_PER_MIN an address waits (429 with Retry-After) and opens nothing."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.auth.sessions import SESSION_COOKIE
from incident_service.config import Settings
from testkit.databases import make_api_key


async def test_failed_sign_ins_are_limited(http_settings: Settings, database_url: str) -> None:
    good = make_api_key(database_url, name="limited", scopes=["incidents:read"])
    strict = http_settings.model_copy(update={"login_failures_per_min": 2})
    async with AsyncTestClient(app=create_app(strict)) as client:
        client.follow_redirects = False
        for _ in range(2):
            answer = await client.post("/ui/login", data={"api_key": "isk_wrong"})
            assert answer.status_code == 401
            assert "unknown or revoked" in answer.text
        limited = await client.post("/ui/login", data={"api_key": good})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in limited.text
        assert SESSION_COOKIE not in client.cookies
