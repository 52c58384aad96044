"""Text that must say something: a reason or an action item made only of spaces and
zero-width characters is a 400 naming the field, like a blank title."""

from __future__ import annotations

from tests.conftest import new_incident

BLANK = " \u200b\u2060\ufeff "


async def test_a_blank_escalation_reason_is_refused(client, team) -> None:
    incident = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    answer = await client.post(
        f"/api/v1/incidents/{incident['incident_id']}/escalate", json={"reason": BLANK}
    )
    assert answer.status_code == 400, answer.text
    assert [e["key"] for e in answer.json()["extra"]] == ["reason"]


async def test_blank_review_lines_are_refused(client, team) -> None:
    incident = (await client.post("/api/v1/incidents", json=new_incident(team))).json()
    url = f"/api/v1/incidents/{incident['incident_id']}/postmortem/review"
    factor = await client.put(url, json={"contributing_factors": [BLANK], "action_items": []})
    assert factor.status_code == 400, factor.text
    assert "contributing_factors" in factor.json()["extra"][0]["key"]
    action = await client.put(
        url,
        json={"contributing_factors": [], "action_items": [{"action": BLANK, "owner": "ann"}]},
    )
    assert action.status_code == 400, action.text
    assert "action" in action.json()["extra"][0]["key"]
