"""GET /api/v1/incidents/{id}/postmortem: generated from the record, stored, negotiated."""

from __future__ import annotations

import psycopg
from litestar.testing import AsyncTestClient

from tests.conftest import new_incident

LIFECYCLE = ["ACKNOWLEDGED", "INVESTIGATING", "IDENTIFIED", "MONITORING", "RESOLVED"]


async def _resolved_incident(client: AsyncTestClient, team: str, **overrides: object) -> str:  # type: ignore[type-arg]
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    incident_id: str = created.json()["incident_id"]
    for status in LIFECYCLE:
        moved = await client.put(
            f"/api/v1/incidents/{incident_id}/status",
            json={"status": status, "actor": "alice", "note": f"now {status.lower()}"},
        )
        assert moved.status_code == 200, moved.text
    return incident_id


async def test_timeline_matches_the_incident_events_one_for_one(client, team: str) -> None:
    incident_id = await _resolved_incident(client, team)
    events = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    response = await client.get(f"/api/v1/incidents/{incident_id}/postmortem")
    assert response.status_code == 200, response.text
    pm = response.json()
    assert [e["event_id"] for e in pm["timeline"]] == [e["id"] for e in events]
    assert [(e["kind"], e["actor"], e["to_status"]) for e in pm["timeline"]] == [
        (e["kind"], e["actor"], e["to_status"]) for e in events
    ]
    impact = pm["impact"]
    assert impact["severity"] == "SEV2_HIGH"
    assert impact["services"] == ["portfolio_management_service"]
    assert impact["time_to_acknowledge_s"] >= 0
    assert impact["time_to_resolve_s"] >= impact["time_to_mitigate_s"] >= 0
    assert pm["contributing_factors"] and pm["action_items"]
    assert pm["predictions"] is None  # no model configured in the tests

    markdown = await client.get(f"/api/v1/incidents/{incident_id}/postmortem?format=markdown")
    assert markdown.headers["content-type"].startswith("text/markdown")
    table_rows = [
        line
        for line in markdown.text.split("## Timeline")[1].split("\n## ")[0].splitlines()
        if line.startswith("| ") and not line.startswith(("| #", "| ---"))
    ]
    assert len(table_rows) == len(events)
    for row, event in zip(table_rows, events, strict=True):
        assert row.startswith(f"| {event['id']} |")
        if event["note"]:
            assert event["note"] in row


async def test_stored_once_and_served_from_storage(client, team: str, database_url: str) -> None:
    incident_id = await _resolved_incident(client, team)
    first = (await client.get(f"/api/v1/incidents/{incident_id}/postmortem")).json()
    second = (await client.get(f"/api/v1/incidents/{incident_id}/postmortem")).json()
    assert first["generated_at"] == second["generated_at"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select generated_by, markdown from postmortems where incident_id = %s",
            (incident_id,),
        ).fetchone()
    assert row is not None and row[0] == "api" and incident_id in row[1]


async def test_format_by_accept_and_query(client, team: str) -> None:
    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    html = await client.get(url, headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<!DOCTYPE html>") and "Plotly" in html.text
    md = await client.get(url, headers={"Accept": "text/html;q=0.5, text/markdown"})
    assert md.headers["content-type"].startswith("text/markdown")
    js = await client.get(url, headers={"Accept": "application/json"})
    assert js.json()["incident_id"] == incident_id
    assert (
        (await client.get(url + "?format=html", headers={"Accept": "text/markdown"}))
        .headers["content-type"]
        .startswith("text/html")
    )
    bad = await client.get(url + "?format=pdf")
    assert bad.status_code == 400
    assert bad.json()["extra"][0]["key"] == "format"


async def test_unresolved_is_409_and_unknown_is_404(client, team: str) -> None:
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    incident_id = created.json()["incident_id"]
    pending = await client.get(f"/api/v1/incidents/{incident_id}/postmortem")
    assert pending.status_code == 409
    assert "resolved" in pending.json()["detail"]
    missing = await client.get("/api/v1/incidents/INC-19990101-999/postmortem")
    assert missing.status_code == 404


async def test_user_text_is_escaped_in_html(client, team: str) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    incident_id = await _resolved_incident(client, team, title=f"Checkout {evil}")
    html = (await client.get(f"/api/v1/incidents/{incident_id}/postmortem?format=html")).text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


async def test_alert_fed_incident_timeline_and_impact(client, team: str) -> None:
    from tests.alerts.conftest import make_integration
    from tests.alerts.test_events_v2 import enqueue, trigger

    key = str((await make_integration(client, team, "events-v2"))["integration_key"])
    assert (await enqueue(client, trigger(key, dedup_key=f"pm/{team}"))).status_code == 202
    incident = (await client.get("/api/v1/incidents", params={"assigned_team": team})).json()[0]
    incident_id = incident["incident_id"]
    for status in ("ACKNOWLEDGED", "RESOLVED"):
        moved = await client.put(
            f"/api/v1/incidents/{incident_id}/status", json={"status": status, "actor": "bob"}
        )
        assert moved.status_code == 200, moved.text
    events = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    pm = (await client.get(f"/api/v1/incidents/{incident_id}/postmortem")).json()
    assert [e["event_id"] for e in pm["timeline"]] == [e["id"] for e in events]
    assert "alert" in [e["kind"] for e in pm["timeline"]]
    alert_entry = next(e for e in pm["timeline"] if e["kind"] == "alert")
    assert alert_entry["summary"].startswith("Alert trigger")
    assert pm["impact"]["alerts"] == 1
    assert pm["impact"]["started_at"] <= pm["impact"]["detected_at"]
    assert pm["impact"]["time_to_detect_s"] >= 0


async def test_team_key_sees_only_its_own_teams_postmortems(
    client, team: str, database_url: str
) -> None:
    from testkit.databases import make_api_key

    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    own = make_api_key(database_url, name="own", scopes=["incidents:read"], team=team)
    other = make_api_key(database_url, name="other", scopes=["incidents:read"], team="elsewhere")
    assert (await client.get(url, headers={"Authorization": f"Bearer {own}"})).status_code == 200
    hidden = await client.get(url, headers={"Authorization": f"Bearer {other}"})
    assert hidden.status_code == 404


async def test_a_teams_postmortem_names_nothing_of_another_team(client, team: str) -> None:
    """Similar incidents in a post-mortem are the incident's team's, in every format."""
    other = f"{team}-other"
    service = f"shared-{team}"
    title = f"Ledger {team} replication lag"
    theirs = await _resolved_incident(
        client, other, title=f"{title} secret-{other}", affected_services=[service]
    )
    ours_before = await _resolved_incident(client, team, title=title, affected_services=[service])
    incident_id = await _resolved_incident(client, team, title=title, affected_services=[service])
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    document = (await client.get(url)).json()
    assert [s["incident_id"] for s in document["similar_incidents"]] == [ours_before]
    api = (await client.get(f"/api/v1/incidents/{incident_id}/similar")).json()["similar"]
    assert api == document["similar_incidents"]  # one definition, one shape
    for answer in (
        (await client.get(url)).text,
        (await client.get(f"{url}?format=markdown")).text,
        (await client.get(f"{url}?format=html")).text,
    ):
        assert theirs not in answer and f"secret-{other}" not in answer and other not in answer
