"""The on-call pages: who is on call and the next hand-offs, overrides added and removed,
policies and schedules edited in forms with the API's messages, `config:write` required,
and nothing of another team's."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

from testkit.databases import make_api_key


async def make_schedule_and_policy(client, team: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    schedule = await client.post(
        "/api/v1/oncall-schedules",
        json={
            "name": f"{team} primary",
            "timezone": "UTC",
            "team": team,
            "layers": [
                {
                    "name": "primary",
                    "rotation": "daily",
                    "participants": [f"{team}-ada", f"{team}-bo"],
                    "starts": "2024-01-01",
                }
            ],
        },
    )
    assert schedule.status_code == 201, schedule.text
    sid = schedule.json()["id"]
    policy = await client.post(
        "/api/v1/escalation-policies",
        json={
            "team": team,
            "name": f"{team} policy",
            "levels": [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": sid}]}],
        },
    )
    assert policy.status_code == 201, policy.text
    return sid, policy.json()["id"]


async def test_who_is_on_call_and_the_next_hand_offs(client, team: str) -> None:
    sid, pid = await make_schedule_and_policy(client, team)
    page = await client.get("/ui/on-call")
    assert page.status_code == 200, page.text
    block = page.text.split(f'id="schedule-{sid}"', 1)[1].split("</article>", 1)[0]
    now = (await client.get(f"/api/v1/oncall-schedules/{sid}/oncall")).json()["person"]
    assert f"On call now: <strong>{now}</strong>" in block
    assert block.count("UTC</time> →") == 3  # the next three hand-offs, at 09:00 UTC
    assert "09:00 UTC</time>" in block
    assert f'id="policy-{pid}"' in page.text and f"schedule {sid}" in page.text


async def test_an_override_is_added_and_removed_by_form(client, team: str) -> None:
    sid, _ = await make_schedule_and_policy(client, team)
    start = datetime.now(UTC) - timedelta(minutes=5)
    form = {
        "person": f"{team}-cy",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    }
    added = await client.post(
        f"/ui/on-call/schedules/{sid}/overrides", data=form, follow_redirects=False
    )
    assert added.status_code == 303, added.text
    now = (await client.get(f"/api/v1/oncall-schedules/{sid}/oncall")).json()
    assert now["person"] == f"{team}-cy" and now["source"] == "override"
    schedule = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()
    override = schedule["overrides"][0]
    assert override["created_by"] == "test-admin"
    backwards = await client.post(
        f"/ui/on-call/schedules/{sid}/overrides",
        data=form | {"ends_at": form["starts_at"], "starts_at": form["ends_at"]},
    )
    assert backwards.status_code in (400, 422) and 'role="alert"' in backwards.text
    removed = await client.post(
        f"/ui/on-call/schedules/{sid}/overrides/{override['id']}/delete",
        data={},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()["overrides"] == []


async def test_a_policy_is_edited_with_the_apis_messages(client, team: str) -> None:
    sid, pid = await make_schedule_and_policy(client, team)
    form = html.unescape((await client.get(f"/ui/on-call/policies/{pid}")).text)
    assert 'for="levels"' in form and '"delay_minutes": 5' in form
    target = {"type": "schedule", "id": sid}
    levels = json.dumps([{"delay_minutes": -5, "targets": [target]}])
    bad = await client.post(
        f"/ui/on-call/policies/{pid}",
        data={"name": "renamed", "team": team, "repeat": "0", "levels": levels},
    )
    assert bad.status_code == 400
    assert "<strong>levels.0.delay_minutes</strong>" in bad.text
    assert "renamed" in bad.text  # the form keeps what was typed
    not_json = await client.post(
        f"/ui/on-call/policies/{pid}",
        data={"name": "renamed", "team": team, "repeat": "0", "levels": "[{"},
    )
    assert not_json.status_code == 400 and "<strong>levels</strong>" in not_json.text
    good = await client.post(
        f"/ui/on-call/policies/{pid}",
        data={"name": "renamed", "team": team, "repeat": "1", "levels": levels.replace("-5", "10")},
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    policy = (await client.get(f"/api/v1/escalation-policies/{pid}")).json()
    assert policy["name"] == "renamed" and policy["repeat"] == 1
    assert policy["levels"][0]["delay_minutes"] == 10 and policy["updated_by"] == "test-admin"


async def test_a_schedule_is_edited_with_the_apis_messages(client, team: str) -> None:
    sid, _ = await make_schedule_and_policy(client, team)
    form = (await client.get(f"/ui/on-call/schedules/{sid}")).text
    assert 'for="layers"' in form and f"{team}-ada" in form
    layers = (
        '[{"name": "primary", "rotation": "daily", "participants": ["x"], "starts": "2024-01-01"}]'
    )
    bad = await client.post(
        f"/ui/on-call/schedules/{sid}",
        data={"name": "n", "timezone": "Mars/Olympus", "team": team, "layers": layers},
    )
    assert bad.status_code == 400 and "<strong>timezone</strong>" in bad.text
    good = await client.post(
        f"/ui/on-call/schedules/{sid}",
        data={"name": "renamed", "timezone": "Europe/Paris", "team": team, "layers": layers},
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    schedule = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()
    assert schedule["timezone"] == "Europe/Paris" and schedule["layers"][0]["participants"] == ["x"]


async def test_config_needs_its_scope_and_stays_in_its_team(
    client, database_url: str, team: str
) -> None:
    sid, pid = await make_schedule_and_policy(client, team)
    responder = make_api_key(
        database_url, name="responder", scopes=["incidents:read", "incidents:write"], team=team
    )
    headers = {"Authorization": f"Bearer {responder}"}
    page = await client.get("/ui/on-call", headers=headers)
    assert page.status_code == 200 and f'id="schedule-{sid}"' in page.text
    assert "Add override" not in page.text and "Edit the policy" not in page.text
    refused = await client.post(f"/ui/on-call/policies/{pid}", data={"name": "x"}, headers=headers)
    assert refused.status_code == 403

    other = make_api_key(database_url, name="other", scopes=["admin"], team=f"{team}-z")
    theirs = {"Authorization": f"Bearer {other}", "Accept": "text/html"}
    listing = await client.get("/ui/on-call", headers=theirs)
    assert listing.status_code == 200 and sid not in listing.text and pid not in listing.text
    for path in (f"/ui/on-call/schedules/{sid}", f"/ui/on-call/policies/{pid}"):
        assert (await client.get(path, headers=theirs)).status_code == 404, path
        answer = await client.post(path, data={"name": "x"}, headers=theirs)
        assert answer.status_code == 404, (path, answer.text[-300:])
    sneaky = await client.post(
        f"/ui/on-call/schedules/{sid}/overrides",
        data={"person": "mallory", "starts_at": "2030-01-01T00:00", "ends_at": "2030-01-02T00:00"},
        headers=theirs,
    )
    assert sneaky.status_code == 404
    assert (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()["overrides"] == []
