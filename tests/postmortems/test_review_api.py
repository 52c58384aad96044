"""PUT/GET /api/v1/incidents/{id}/postmortem/review: what people add to a post-mortem."""

from __future__ import annotations

import psycopg

from tests.conftest import new_incident
from tests.postmortems.test_postmortem_api import _resolved_incident

REVIEW = {
    "contributing_factors": ["A config push raised the pool size past the database's limit"],
    "action_items": [
        {"action": "Cap the pool size in the config schema", "owner": "bob", "due": "2026-12-15"},
        {"action": "Alert on refused connections", "owner": "carol"},
    ],
}


async def test_saved_review_is_in_every_format_survives_regeneration_and_is_recorded(
    client, team: str, database_url: str
) -> None:
    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    before = (await client.get(url)).json()
    assert before["contributing_factors"][0].startswith("To be completed")

    saved = await client.put(f"{url}/review", json=REVIEW)
    assert saved.status_code == 200, saved.text
    pm = saved.json()
    assert pm["contributing_factors"] == REVIEW["contributing_factors"]
    assert pm["action_items"] == [
        "Cap the pool size in the config schema (owner: bob, due 2026-12-15)",
        "Alert on refused connections (owner: carol)",
    ]
    assert (await client.get(url)).json()["action_items"] == pm["action_items"]
    markdown = (await client.get(f"{url}?format=markdown")).text
    assert "Alert on refused connections (owner: carol)" in markdown

    review = (await client.get(f"{url}/review")).json()
    assert review["contributing_factors"] == REVIEW["contributing_factors"]
    assert review["action_items"][0] == REVIEW["action_items"][0]
    assert review["updated_by"] and review["updated_at"]
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    assert timeline[-1]["kind"] == "postmortem_reviewed"
    assert timeline[-1]["actor"] == review["updated_by"]

    # Regenerated from the record (as after a reopen and a new resolution): the review stays.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("delete from postmortems where incident_id = %s", (incident_id,))
    again = (await client.get(url)).json()
    assert again["contributing_factors"] == REVIEW["contributing_factors"]

    replaced = await client.put(f"{url}/review", json={**REVIEW, "action_items": []})
    assert replaced.json()["action_items"] == []


async def test_bad_reviews_are_400s_naming_the_field(client, team: str) -> None:
    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem/review"
    for body, field in [
        ({"action_items": []}, "contributing_factors"),
        ({"contributing_factors": ["x"], "action_items": [{"action": "y"}]}, "owner"),
        (
            {
                "contributing_factors": ["x"],
                "action_items": [{"action": "y", "owner": "z", "due": "soon"}],
            },
            "due",
        ),
        ({"contributing_factors": ["nul \u0000"], "action_items": []}, "contributing_factors"),
    ]:
        response = await client.put(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.text
    assert (await client.get(url)).status_code == 404


async def test_unknown_or_unresolved_incident(client, team: str) -> None:
    missing = await client.put("/api/v1/incidents/NOPE-1/postmortem/review", json=REVIEW)
    assert missing.status_code == 404
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    incident_id = created.json()["incident_id"]
    early = await client.put(f"/api/v1/incidents/{incident_id}/postmortem/review", json=REVIEW)
    assert early.status_code == 409
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    assert all(e["kind"] != "postmortem_reviewed" for e in timeline)


async def test_review_needs_write_scope_and_the_incidents_team(
    client, team: str, database_url: str
) -> None:
    from testkit.databases import make_api_key

    incident_id = await _resolved_incident(client, team)
    url = f"/api/v1/incidents/{incident_id}/postmortem/review"
    reader = make_api_key(database_url, name="reader", scopes=["incidents:read"], team=team)
    other = make_api_key(database_url, name="other", scopes=["incidents:write"], team="elsewhere")
    own = make_api_key(database_url, name="own", scopes=["incidents:write"], team=team)
    as_reader = await client.put(url, json=REVIEW, headers={"Authorization": f"Bearer {reader}"})
    assert as_reader.status_code == 403
    as_other = await client.put(url, json=REVIEW, headers={"Authorization": f"Bearer {other}"})
    assert as_other.status_code == 404
    as_own = await client.put(url, json=REVIEW, headers={"Authorization": f"Bearer {own}"})
    assert as_own.status_code == 200, as_own.text
    assert (await client.get(url)).json()["updated_by"] == "own"
