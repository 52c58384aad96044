"""Similar past incidents: `GET /api/v1/incidents/{id}/similar` and the ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_service.predictions.similar import rank, words
from testkit.databases import make_api_key
from tests.conftest import new_incident


def _row(i: int, title: str, services: list[str], team: str = "a", desc: str = "") -> dict:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i)
    return {
        "incident_id": f"INC-{i}",
        "title": title,
        "description": desc,
        "severity": "SEV2_HIGH",
        "status": "RESOLVED",
        "assigned_team": team,
        "affected_services": services,
        "created_at": at,
        "resolved_at": at + timedelta(hours=2),
    }


def test_words_drop_stop_words_numbers_and_case() -> None:
    assert words("The Checkout-API timeout and 502 errors") == {"checkout-api", "timeout", "errors"}


def test_rank_prefers_rare_shared_words_and_services_and_says_why() -> None:
    me = _row(100, "payments-db replication lag errors", ["payments-db"])
    candidates = [
        _row(1, "search errors", ["search"]),  # only a common word
        _row(2, "payments-db replication lag", ["payments-db"]),  # words + service
        _row(3, "disk full", ["payments-db"]),  # service only
        _row(4, "errors errors", ["web"]),
        _row(5, "nothing in common", ["other"]),  # neither: never returned
    ]
    ranked = rank(me, candidates, limit=10)
    ids = [m.incident_id for m in ranked]
    assert ids[0] == "INC-2"
    assert "INC-5" not in ids
    assert ids.index("INC-3") < ids.index("INC-1")
    best = ranked[0]
    assert best.shared_services == ["payments-db"]
    assert set(best.shared_words) == {"payments-db", "replication", "lag"}
    assert best.reason.startswith("same services: payments-db; shared words:")
    scores = [m.score for m in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(rank(me, candidates, limit=2)) == 2


async def test_similar_endpoint_ranks_earlier_incidents_with_reasons(client, team) -> None:
    async def open_(title: str, services: list[str], description: str = "") -> str:
        body = new_incident(team, title=title, affected_services=services, description=description)
        r = await client.post("/api/v1/incidents", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["incident_id"])

    svc = f"svc-{team}"
    first = await open_("Kafka consumer lag on orders pipeline", [svc])
    other = await open_("Certificate expired on the login page", [f"login-{team}"])
    await open_("Disk pressure on builders", [f"builders-{team}"])
    latest = await open_(
        "Orders pipeline kafka consumer lag again", [svc], description="lag above 10 minutes"
    )
    later = await open_("Kafka consumer lag orders pipeline", [svc])  # after: never similar

    got = await client.get(f"/api/v1/incidents/{latest}/similar")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["incident_id"] == latest
    ids = [s["incident_id"] for s in body["similar"]]
    assert ids[0] == first
    assert later not in ids and latest not in ids and other not in ids
    top = body["similar"][0]
    assert top["shared_services"] == [svc]
    assert {"kafka", "consumer", "lag", "orders", "pipeline"} <= set(top["shared_words"])
    assert top["reason"].startswith(f"same services: {svc}")
    assert top["time_to_resolve_hours"] is None and top["status"] == "OPEN"

    # Nothing of this test's opened before `first` (other tests share the database).
    before_first = (await client.get(f"/api/v1/incidents/{first}/similar")).json()["similar"]
    assert not {s["incident_id"] for s in before_first} & {other, latest, later}
    assert before_first == []  # nothing of its team came before it
    assert (await client.get("/api/v1/incidents/INC-19990101-001/similar")).status_code == 404
    bad = await client.get(f"/api/v1/incidents/{latest}/similar", params={"limit": 0})
    assert bad.status_code == 400 and "limit" in bad.text


async def test_a_team_key_sees_only_its_teams_similar_incidents(client, database_url, team) -> None:
    svc = f"shared-{team}"
    mine = await client.post(
        "/api/v1/incidents",
        json=new_incident(team, title="redis evictions", affected_services=[svc]),
    )
    theirs = await client.post(
        "/api/v1/incidents",
        json=new_incident(f"{team}-x", title="redis evictions", affected_services=[svc]),
    )
    probe = await client.post(
        "/api/v1/incidents",
        json=new_incident(team, title="redis evictions", affected_services=[svc]),
    )
    key = make_api_key(database_url, name="team-reader", scopes=["incidents:read"], team=team)
    headers = {"Authorization": f"Bearer {key}"}
    got = await client.get(
        f"/api/v1/incidents/{probe.json()['incident_id']}/similar", headers=headers
    )
    ids = [s["incident_id"] for s in got.json()["similar"]]
    assert ids == [mine.json()["incident_id"]]
    assert theirs.json()["incident_id"] not in ids
    # An unrestricted key gets the same list: similar incidents are of the incident's team.
    admin = await client.get(f"/api/v1/incidents/{probe.json()['incident_id']}/similar")
    assert [s["incident_id"] for s in admin.json()["similar"]] == ids
    # Another team's incident is a 404 for this key, as everywhere.
    other = await client.get(
        f"/api/v1/incidents/{theirs.json()['incident_id']}/similar", headers=headers
    )
    assert other.status_code == 404


async def test_odd_text_never_breaks_the_search(client, team) -> None:
    for title in [
        "a | b & !c :* (d)",
        "'; drop table incidents; --",
        "-- -x- or or",
        "\u00e9\u00e8 \u4e2d\u6587",
    ]:
        r = await client.post("/api/v1/incidents", json=new_incident(team, title=title))
        assert r.status_code == 201
        got = await client.get(f"/api/v1/incidents/{r.json()['incident_id']}/similar")
        assert got.status_code == 200, (title, got.text)
