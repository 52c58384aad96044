"""API keys: 401 without one, scopes, team restriction (404, not 403), rate limits, hashing,
the admin API and the CLI, actors taken from the key."""

from __future__ import annotations

import hashlib
import json
import logging

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.cli import build_parser
from incident_service.config import Settings
from testkit.databases import make_api_key
from tests.conftest import feed_until, new_incident


@pytest.fixture(scope="module")
async def anon(settings: Settings):
    """A client with no key, on an app that re-checks keys on every request."""
    app = create_app(settings.model_copy(update={"api_key_cache_s": 0.0}))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/incidents"),
        ("POST", "/api/v1/incidents"),
        ("GET", "/api/v1/incidents/INC-20250101-001"),
        ("PUT", "/api/v1/incidents/INC-20250101-001/status"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/api-keys"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/response-policies"),
        ("GET", "/api/v1/escalation-policies"),
    ],
)
async def test_no_key_is_401(anon, method: str, path: str) -> None:
    response = await anon.request(method, path, json={} if method != "GET" else None)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = await anon.request(method, path, headers=bearer("isk_not-a-real-key"))
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/health", "/ready"])
async def test_probes_need_no_key(anon, path: str) -> None:
    assert (await anon.get(path)).status_code == 200


async def test_docs_need_a_key_unless_public(anon, settings, admin_headers) -> None:
    assert (await anon.get("/docs/openapi.json")).status_code == 401
    assert (await anon.get("/docs")).status_code == 401
    assert (await anon.get("/docs/openapi.json", headers=admin_headers)).status_code == 200
    public = create_app(settings.model_copy(update={"public_docs": True}))
    async with AsyncTestClient(app=public) as client:
        assert (await client.get("/docs/openapi.json")).status_code == 200
        assert (await client.get("/api/v1/incidents")).status_code == 401


async def test_x_api_key_header_works_too(anon, database_url) -> None:
    key = make_api_key(database_url, name="reader", scopes=["incidents:read"])
    assert (await anon.get("/api/v1/incidents", headers={"X-API-Key": key})).status_code == 200


async def test_scopes(anon, database_url, team) -> None:
    reader = make_api_key(database_url, name="reader", scopes=["incidents:read"])
    writer = make_api_key(database_url, name="writer", scopes=["incidents:write"])
    assert (await anon.get("/api/v1/incidents", headers=bearer(reader))).status_code == 200
    denied = await anon.post("/api/v1/incidents", json=new_incident(team), headers=bearer(reader))
    assert denied.status_code == 403
    assert denied.json()["required_scope"] == "incidents:write"
    created = await anon.post("/api/v1/incidents", json=new_incident(team), headers=bearer(writer))
    assert created.status_code == 201
    # Configuration needs config:write, key management needs admin.
    assert (await anon.get("/api/v1/api-keys", headers=bearer(writer))).status_code == 403
    policy = await anon.post("/api/v1/escalation-policies", json={}, headers=bearer(writer))
    assert policy.status_code == 403


async def test_team_key_sees_only_its_team(anon, client, database_url, team) -> None:
    other = (await client.post("/api/v1/incidents", json=new_incident("someone-else"))).json()
    key = bearer(
        make_api_key(
            database_url,
            name=f"{team}-bot",
            scopes=["incidents:read", "incidents:write"],
            team=team,
        )
    )
    mine = await anon.post("/api/v1/incidents", json=new_incident(team), headers=key)
    assert mine.status_code == 201
    assert mine.json()["created_by"] == f"{team}-bot"

    forbidden = await anon.post("/api/v1/incidents", json=new_incident("someone-else"), headers=key)
    assert forbidden.status_code == 403

    listed = (await anon.get("/api/v1/incidents", headers=key)).json()
    assert {i["assigned_team"] for i in listed} == {team}
    other_team = await anon.get(
        "/api/v1/incidents", params={"assigned_team": "someone-else"}, headers=key
    )
    assert other_team.json() == []

    missing = await anon.get("/api/v1/incidents/INC-19990101-001", headers=key)
    for path in ("", "/timeline", "/responses"):
        hidden = await anon.get(f"/api/v1/incidents/{other['incident_id']}{path}", headers=key)
        assert hidden.status_code == 404, path
        assert hidden.json()["detail"] == f"incident {other['incident_id']} not found"
    assert missing.status_code == 404
    moved = await anon.put(
        f"/api/v1/incidents/{other['incident_id']}/status", json={"status": "RESOLVED"}, headers=key
    )
    assert moved.status_code == 404
    assert (await client.get(f"/api/v1/incidents/{other['incident_id']}")).json()[
        "status"
    ] == "OPEN"

    events = await feed_until(
        anon,
        {"limit": 1000},
        lambda ev: any(e.get("incident_created", {}).get("assigned_team") == team for e in ev),
        headers=key,
    )
    created = [e["incident_created"]["assigned_team"] for e in events if "incident_created" in e]
    assert set(created) == {team}


async def test_rate_limit_is_429_with_retry_after(anon, database_url, team) -> None:
    key = bearer(make_api_key(database_url, name="slow", scopes=["incidents:read"], rate_limit=1))
    statuses = [
        (await anon.get("/api/v1/incidents", params={"limit": 1}, headers=key)) for _ in range(15)
    ]
    codes = [r.status_code for r in statuses]
    assert codes[:10] == [200] * 10, codes  # the burst: 10 s of a 1/s rate
    limited = next(r for r in statuses if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1


async def test_keys_are_stored_hashed_and_actor_is_the_owner(anon, database_url, team) -> None:
    key = make_api_key(database_url, name="alice", scopes=["incidents:write", "incidents:read"])
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "select key_hash, prefix from api_keys where name = 'alice'"
        ).fetchall()
    assert all(key not in row for row in stored for _ in [0])
    assert hashlib.sha256(key.encode()).hexdigest() in {row[0] for row in stored}

    created = (
        await anon.post("/api/v1/incidents", json=new_incident(team), headers=bearer(key))
    ).json()
    await anon.put(
        f"/api/v1/incidents/{created['incident_id']}/status",
        json={"status": "ACKNOWLEDGED", "actor": "mallory"},
        headers=bearer(key),
    )
    timeline = (
        await anon.get(f"/api/v1/incidents/{created['incident_id']}/timeline", headers=bearer(key))
    ).json()
    assert [e["actor"] for e in timeline] == ["alice", "alice"]
    assert timeline[1]["details"]["on_behalf_of"] == "mallory"


async def test_admin_api_creates_lists_and_revokes(anon, admin_headers, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    created = await anon.post(
        "/api/v1/api-keys",
        headers=admin_headers,
        json={"name": "ci-bot", "scopes": ["incidents:read"]},
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    key_id = created.json()["api_key"]["id"]
    assert (await anon.get("/api/v1/incidents", headers=bearer(key))).status_code == 200

    listed = await anon.get("/api/v1/api-keys", headers=admin_headers)
    assert key not in listed.text
    assert any(k["id"] == key_id and k["last_used_at"] for k in listed.json())

    revoked = await anon.delete(f"/api/v1/api-keys/{key_id}", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await anon.get("/api/v1/incidents", headers=bearer(key))).status_code == 401

    bad = await anon.post(
        "/api/v1/api-keys", headers=admin_headers, json={"name": "x", "scopes": ["everything"]}
    )
    assert bad.status_code == 400
    assert key not in caplog.text, "a key must never reach a log line"


def test_cli_creates_lists_and_revokes(database_url, capsys) -> None:
    settings = Settings(database_url=database_url)

    def cli(*args: str) -> tuple[int, str, str]:
        parsed = build_parser().parse_args(["api-keys", *args])
        code = parsed.func(parsed, settings)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = cli(
        "create",
        "--name",
        "cli-made",
        "--scopes",
        "incidents:read,incidents:write",
        "--team",
        "payments",
    )
    assert code == 0, err
    key = out.strip()
    assert key.startswith("isk_") and "shown only once" in err
    code, listed, _ = cli("list")
    assert key not in listed and '"cli-made"' in listed
    key_id = next(
        json.loads(line)["id"]
        for line in listed.splitlines()
        if json.loads(line)["name"] == "cli-made"
    )
    assert cli("revoke", key_id)[0] == 0
    code, _, err = cli("create", "--name", "x", "--scopes", "root")
    assert code == 2 and "scopes" in err
