"""A key acts within itself: it mints no wider key, manages its own team's keys only, owns
its Idempotency-Keys, reads /metrics only with `admin` or `metrics:read` and no team, and
is the actor of what it does (a body's `actor` is only "on behalf of")."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from incident_service.auth.schemas import ApiKeyCreate, Principal, Scope
from incident_service.auth.service import check_grant
from incident_service.cli import build_parser
from incident_service.config import Settings
from incident_service.errors import Forbidden
from testkit.databases import make_api_key
from tests.conftest import new_incident


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def team_admin(database_url, team) -> dict[str, str]:
    return bearer(make_api_key(database_url, name=f"{team}-admin", scopes=["admin"], team=team))


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["admin"]},  # unrestricted
        {"scopes": ["incidents:read"], "team": "someone-else"},
    ],
)
async def test_a_team_admin_cannot_mint_a_key_outside_its_team(
    client, team_admin, team, body
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "escape", **body}, headers=team_admin
    )
    assert created.status_code == 403, created.text
    assert created.json()["extra"][0]["key"] == "team"
    assert team in created.json()["detail"]
    listed = (await client.get("/api/v1/api-keys")).json()
    assert "escape" not in {k["name"] for k in listed}


async def test_a_team_admin_grants_any_scope_within_its_team(client, team_admin, team) -> None:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": f"{team}-deputy", "scopes": ["admin", "config:write"], "team": team},
        headers=team_admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["api_key"]["team"] == team
    # The minted admin key is itself restricted: it cannot mint an unrestricted key either.
    deputy = bearer(created.json()["key"])
    again = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["admin"]}, headers=deputy
    )
    assert again.status_code == 403


def test_a_key_grants_at_most_its_own_scopes() -> None:
    writer = Principal(uuid4(), "w", frozenset({Scope.INCIDENTS_WRITE}), None, None)
    check_grant(ApiKeyCreate(name="ok", scopes=[Scope.INCIDENTS_WRITE]), writer)
    for wider in (Scope.ADMIN, Scope.CONFIG_WRITE, Scope.METRICS_READ):
        with pytest.raises(Forbidden) as raised:
            check_grant(ApiKeyCreate(name="x", scopes=[Scope.INCIDENTS_WRITE, wider]), writer)
        assert raised.value.extra["extra"][0]["key"] == "scopes"
        assert wider.value in raised.value.message


async def test_a_team_admin_lists_and_revokes_its_team_keys_only(
    client, database_url, team_admin, team
) -> None:
    make_api_key(database_url, name=f"{team}-reader", scopes=["incidents:read"], team=team)
    other_team = make_api_key(
        database_url, name=f"{team}-other", scopes=["incidents:read"], team="someone-else"
    )
    unrestricted = make_api_key(database_url, name=f"{team}-global", scopes=["incidents:read"])

    listed = await client.get("/api/v1/api-keys", headers=team_admin)
    assert listed.status_code == 200
    assert {k["team"] for k in listed.json()} == {team}
    assert f"{team}-reader" in {k["name"] for k in listed.json()}
    everything = (await client.get("/api/v1/api-keys")).json()  # the unrestricted admin
    assert {f"{team}-other", f"{team}-global"} <= {k["name"] for k in everything}

    ids = {k["name"]: k["id"] for k in everything}
    for name, key in ((f"{team}-other", other_team), (f"{team}-global", unrestricted)):
        refused = await client.delete(f"/api/v1/api-keys/{ids[name]}", headers=team_admin)
        assert refused.status_code == 404, refused.text
        assert name not in refused.text
        assert (await client.get("/api/v1/incidents", headers=bearer(key))).status_code == 200
    revoked = await client.delete(f"/api/v1/api-keys/{ids[f'{team}-reader']}", headers=team_admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]


async def test_idempotency_keys_belong_to_the_key_that_sent_them(
    client, database_url, team
) -> None:
    scopes = ["incidents:read", "incidents:write"]
    key_a = bearer(make_api_key(database_url, name=f"{team}-a", scopes=scopes, team=team))
    key_b = bearer(make_api_key(database_url, name=f"{team}-b", scopes=scopes))

    async def create(key: dict[str, str], idem: str, **fields: str):
        body = new_incident(fields.pop("team", team), **fields)
        return await client.post(
            "/api/v1/incidents", json=body, headers=key | {"Idempotency-Key": idem}
        )

    # The same Idempotency-Key and body from another key: its own incident, no replay.
    first = await create(key_a, f"same-{team}")
    second = await create(key_b, f"same-{team}")
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["incident_id"] not in second.text
    assert "idempotent-replayed" not in second.headers
    # Another body: not a 409 naming the first key's incident.
    other = await create(key_b, f"other-{team}", team="someone-else")
    first_other = await create(key_a, f"other-{team}", title="something else")
    assert other.status_code == first_other.status_code == 201, first_other.text
    assert other.json()["incident_id"] not in first_other.text
    # Each key still replays its own.
    for key, original in ((key_a, first), (key_b, second)):
        again = await create(key, f"same-{team}")
        assert again.json()["incident_id"] == original.json()["incident_id"]
        assert again.headers["idempotent-replayed"] == "true"


async def test_metrics_need_admin_or_metrics_read_and_no_team(
    client, database_url, team_admin, team
) -> None:
    reader = make_api_key(database_url, name="reader", scopes=["incidents:read", "config:write"])
    refused = await client.get("/metrics", headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "metrics:read"
    scraper = make_api_key(database_url, name="prometheus", scopes=["metrics:read"])
    scraped = await client.get("/metrics", headers=bearer(scraper))
    assert scraped.status_code == 200
    assert "incident_service_incidents" in scraped.text
    # The counts cover every team: a team key may not read them, even an admin one.
    assert (await client.get("/metrics", headers=team_admin)).status_code == 403
    team_scraper = make_api_key(database_url, name="ts", scopes=["metrics:read"], team=team)
    assert (await client.get("/metrics", headers=bearer(team_scraper))).status_code == 403
    # ...and a metrics key reads nothing else.
    assert (await client.get("/api/v1/incidents", headers=bearer(scraper))).status_code == 403
    assert (await client.get("/metrics")).status_code == 200  # the unrestricted admin


def test_cli_creates_a_metrics_key(database_url, capsys) -> None:
    parsed = build_parser().parse_args(
        ["api-keys", "create", "--name", "prometheus-cli", "--scopes", "metrics:read"]
    )
    assert parsed.func(parsed, Settings(database_url=database_url)) == 0
    assert capsys.readouterr().out.startswith("isk_")
    parsed = build_parser().parse_args(["api-keys", "list"])
    parsed.func(parsed, Settings(database_url=database_url))
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert next(k for k in listed if k["name"] == "prometheus-cli")["scopes"] == ["metrics:read"]


def test_the_actor_is_the_principal_and_a_claim_only_on_behalf() -> None:
    alice = Principal(uuid4(), "alice", frozenset({Scope.ADMIN}), None, None)
    assert alice.acting_for(None) == "alice"
    assert alice.acting_for("alice") == "alice"
    assert alice.acting_for("ceo@company") == "alice (on behalf of ceo@company)"
    long = alice.acting_for("x" * 200)
    assert len(long) == 200 and long.startswith("alice (on behalf of xxx") and long[-2:] == "…)"
    long_name = Principal(uuid4(), "n" * 195, frozenset(), None, None)
    assert long_name.acting_for("mallory") == "n" * 195


async def test_a_rate_limit_must_be_a_number(client) -> None:
    for bad in (True, "5", 1.5):
        refused = await client.post(
            "/api/v1/api-keys", json={"name": "x", "scopes": ["admin"], "rate_limit": bad}
        )
        assert refused.status_code == 400, (bad, refused.text)
        assert "rate_limit" in refused.text
