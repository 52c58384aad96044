"""Subscribers are a team's, reach public addresses only, and never show credentials or a
receiver's answer."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.outbound import REFUSED
from testkit.databases import make_api_key
from testkit.targets import SECRET, Behaviour
from testkit.worker import wait_for
from tests.conftest import new_incident
from tests.test_outbound import HOSTILE


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
async def strict_client(wf_settings: Settings, wf_key: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The API as deployed by default: no internal network allowed."""
    settings = wf_settings.model_copy(update={"outbound_allow_networks": []})
    async with AsyncTestClient(app=create_app(settings)) as client:
        client.headers.update(_bearer(wf_key))
        yield client


def _hook(team: str, url: str, **extra: object) -> dict[str, object]:
    return {
        "name": f"hook-{secrets.token_hex(4)}",
        "team": team,
        "kind": "webhook",
        "url": url,
    } | extra


@pytest.mark.parametrize("url", [u for u in HOSTILE if u.startswith("http")])
async def test_internal_and_credentialed_urls_are_refused_at_creation(strict_client, team, url):
    answer = await strict_client.post("/api/v1/subscribers", json=_hook(team, url))
    assert answer.status_code == 400, answer.text
    assert [e["key"] for e in answer.json()["extra"]] == ["url"]


async def test_team_keys_see_and_change_their_own_team_only(
    wf_client, wf_database_url, standin, team
):
    other = f"other-{team}"
    mine = _bearer(
        make_api_key(
            wf_database_url, name=f"k-{team}", scopes=["config:write", "incidents:read"], team=team
        )
    )
    theirs = _bearer(
        make_api_key(
            wf_database_url,
            name=f"k-{other}",
            scopes=["config:write", "incidents:read"],
            team=other,
        )
    )
    # No team in the body: a team key's subscriber is its team's.
    body = {
        "name": f"mine-{team}",
        "kind": "webhook",
        "url": f"{standin.url}/t/{team}",
        "start": "beginning",
    }
    created = await wf_client.post("/api/v1/subscribers", json=body, headers=mine)
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["team"] == team and sub["updated_by"] == f"k-{team}"

    refused = await wf_client.post(
        "/api/v1/subscribers", json=_hook(other, standin.url), headers=mine
    )
    assert refused.status_code == 403

    path = f"/api/v1/subscribers/{sub['id']}"
    assert (await wf_client.get(path, headers=theirs)).status_code == 404
    assert (
        await wf_client.put(path, json=body | {"name": "stolen"}, headers=theirs)
    ).status_code == 404
    assert (await wf_client.delete(path, headers=theirs)).status_code == 404
    listed = (await wf_client.get("/api/v1/subscribers", headers=theirs)).json()
    assert all(s["team"] == other for s in listed) and sub["id"] not in [s["id"] for s in listed]
    assert sub["id"] in [
        s["id"] for s in (await wf_client.get("/api/v1/subscribers", headers=mine)).json()
    ]

    # An all-teams subscriber is for an unrestricted admin key only, and invisible to teams.
    unrestricted = _bearer(make_api_key(wf_database_url, name=f"u-{team}", scopes=["config:write"]))
    all_teams = {"name": f"all-{team}", "kind": "webhook", "url": f"{standin.url}/all"}
    assert (
        await wf_client.post("/api/v1/subscribers", json=all_teams, headers=unrestricted)
    ).status_code == 403
    admin_made = await wf_client.post("/api/v1/subscribers", json=all_teams)
    assert admin_made.status_code == 201 and admin_made.json()["team"] is None
    all_path = f"/api/v1/subscribers/{admin_made.json()['id']}"
    assert (await wf_client.get(all_path, headers=mine)).status_code == 404
    assert (await wf_client.delete(all_path, headers=unrestricted)).status_code == 403
    assert (await wf_client.delete(all_path)).status_code == 204
    assert (await wf_client.delete(path, headers=mine)).status_code == 204


async def test_a_new_url_needs_the_secret_again_and_the_actor_is_the_key(wf_client, standin, team):
    body = _hook(team, f"{standin.url}/a/{team}", secret=SECRET, active=False)
    sub = (await wf_client.post("/api/v1/subscribers", json=body)).json()
    path = f"/api/v1/subscribers/{sub['id']}"
    without_secret = {k: v for k, v in body.items() if k != "secret"}

    moved = await wf_client.put(path, json=without_secret | {"url": f"{standin.url}/b/{team}"})
    assert moved.status_code == 400, moved.text
    assert [e["key"] for e in moved.json()["extra"]] == ["secret"]

    kept = await wf_client.put(path, json=without_secret | {"actor": "ceo@company"})
    assert kept.status_code == 200 and kept.json()["has_secret"] is True
    assert kept.json()["updated_by"] == "wf-admin"
    assert kept.json()["updated_on_behalf_of"] == "ceo@company"

    resent = await wf_client.put(path, json=body | {"url": f"{standin.url}/b/{team}"})
    assert resent.status_code == 200 and resent.json()["url"].endswith(f"/b/{team}")
    await wf_client.delete(path)


async def test_answers_never_show_credentials_in_urls(wf_client, wf_database_url, team):
    # A row stored before URLs with credentials were refused.
    with psycopg.connect(wf_database_url, autocommit=True) as conn:
        (sid,) = conn.execute(
            "insert into event_subscribers (name, team, kind, url, active, updated_by)"
            " values (%s, %s, 'webhook', %s, false, 'old') returning id",
            (f"old-{team}", team, "https://u:hunter2@hooks.example/x?token=abc&team=a"),
        ).fetchone()
    one = await wf_client.get(f"/api/v1/subscribers/{sid}")
    listed = await wf_client.get("/api/v1/subscribers")
    for text in (one.text, listed.text):
        assert "hunter2" not in text and "abc" not in text
    assert one.json()["url"] == "https://hooks.example/x?token=***&team=a"


async def test_a_team_subscriber_receives_its_team_events_only(wf_client, worker, standin, team):
    other = f"other-{team}"
    path = f"/only/{team}"
    sub = await wf_client.post(
        "/api/v1/subscribers",
        json=_hook(team, f"{standin.url}{path}", secret=SECRET, start="beginning"),
    )
    assert sub.status_code == 201, sub.text
    # The other team's incident first: in feed order it would reach the receiver first.
    theirs = (
        await wf_client.post("/api/v1/incidents", json=new_incident(other, severity="SEV4_LOW"))
    ).json()
    mine = (
        await wf_client.post("/api/v1/incidents", json=new_incident(team, severity="SEV4_LOW"))
    ).json()

    def arrived():
        return [r.body for r in standin.by_path(path) if "incident_created" in r.body]

    received = await wait_for(arrived, within=60)
    assert [b["incident_created"]["incident_id"] for b in received] == [mine["incident_id"]]
    texts = [str(r.body) for r in standin.by_path(path)]
    assert not any(theirs["incident_id"] in t or other in t for t in texts)
    await wf_client.delete(f"/api/v1/subscribers/{sub.json()['id']}")


async def test_last_error_names_the_failure_not_the_receivers_answer(
    wf_client, worker, standin, team
):
    path = f"/down/{team}"
    standin.behave(path, Behaviour(status=503))
    sub = await wf_client.post(
        "/api/v1/subscribers", json=_hook(team, f"{standin.url}{path}", secret=SECRET)
    )
    await wf_client.post("/api/v1/incidents", json=new_incident(team, severity="SEV4_LOW"))

    async def failed():
        status = (await wf_client.get(f"/api/v1/subscribers/{sub.json()['id']}")).json()
        return status if status["last_error"] else None

    status = await wait_for(failed, within=60)
    assert status and status["last_error"] == "HTTP 503"
    await wf_client.delete(f"/api/v1/subscribers/{sub.json()['id']}")


async def test_a_delivery_the_policy_refuses_is_a_recorded_failure(
    wf_client, wf_database_url, worker, team
):
    # As if the name had been re-pointed after the check at creation: the worker allows
    # only 127.0.0.0/8 and ::1, so the metadata address is refused when connecting.
    with psycopg.connect(wf_database_url, autocommit=True) as conn:
        (sid,) = conn.execute(
            "insert into event_subscribers (name, team, kind, url, updated_by, position_txid)"
            " values (%s, %s, 'webhook', 'http://169.254.169.254/latest', 'old',"
            " pg_snapshot_xmin(pg_current_snapshot())) returning id",
            (f"meta-{team}", team),
        ).fetchone()
    await wf_client.post("/api/v1/incidents", json=new_incident(team, severity="SEV4_LOW"))

    async def failed():
        status = (await wf_client.get(f"/api/v1/subscribers/{sid}")).json()
        return status if status["last_error"] else None

    status = await wait_for(failed, within=60)
    assert status and status["last_error"] == REFUSED
    assert status["failures"] >= 1 and status["delivered_count"] == 0
    await wf_client.delete(f"/api/v1/subscribers/{sid}")


async def test_a_quiet_team_subscriber_moves_past_other_teams_events(
    wf_client, wf_database_url, worker, standin, team
):
    sub = await wf_client.post("/api/v1/subscribers", json=_hook(team, f"{standin.url}/q/{team}"))
    assert sub.status_code == 201, sub.text
    other = (
        await wf_client.post(
            "/api/v1/incidents", json=new_incident(f"other-{team}", severity="SEV4_LOW")
        )
    ).json()
    with psycopg.connect(wf_database_url, autocommit=True) as conn:
        ((txid,),) = conn.execute(
            "select max(txid)::text from outbox where incident_id = %s", (other["incident_id"],)
        ).fetchall()
        for _ in range(1100):  # transactions of other teams, as on a busy service
            conn.execute("select pg_current_xact_id()")

    def moved():
        with psycopg.connect(wf_database_url, autocommit=True) as conn:
            ((position,),) = conn.execute(
                "select position_txid::text from event_subscribers where id = %s",
                (sub.json()["id"],),
            ).fetchall()
        return int(position) > int(txid)

    assert await wait_for(moved, within=30)
    assert standin.by_path(f"/q/{team}") == []
    await wf_client.delete(f"/api/v1/subscribers/{sub.json()['id']}")


async def test_names_are_per_team_and_nats_subjects_under_the_teams_prefix(
    wf_client, wf_database_url, team
):
    from incident_service.relay.service import subject_prefix

    other = f"other-{team}"
    keys = {
        t: _bearer(make_api_key(wf_database_url, name=f"n-{t}", scopes=["config:write"], team=t))
        for t in (team, other)
    }
    # The same name in two teams: neither learns of the other (no 409 across teams).
    for t in (team, other):
        body = {"name": "alerts", "kind": "nats", "subject": f"{subject_prefix(t)}.alerts"}
        created = await wf_client.post("/api/v1/subscribers", json=body, headers=keys[t])
        assert created.status_code == 201, created.text
    again = await wf_client.post(
        "/api/v1/subscribers",
        json={"name": "alerts", "kind": "nats", "subject": f"{subject_prefix(team)}.x"},
        headers=keys[team],
    )
    assert again.status_code == 409, again.text
    # Publishing into another team's subjects (or outside any team's) is refused.
    for subject in (f"{subject_prefix(other)}.alerts", "incidents", f"{team}x.alerts"):
        refused = await wf_client.post(
            "/api/v1/subscribers",
            json={"name": f"s-{secrets.token_hex(3)}", "kind": "nats", "subject": subject},
            headers=keys[team],
        )
        assert refused.status_code == 400, (subject, refused.text)
        assert [e["key"] for e in refused.json()["extra"]] == ["subject"]
    # A team whose name is not a subject token publishes under a digest of it.
    odd = f"ops {team}/eu"
    assert subject_prefix(odd).startswith("team_") and subject_prefix(odd) != subject_prefix(team)
