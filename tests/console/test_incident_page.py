"""The incident page: every section read from the real record, every action through the
same services as the API (recorded as the caller), refusals shown with the API's message,
and nothing of another team's incident."""

from __future__ import annotations

import secrets

from testkit.databases import make_api_key
from tests.conftest import new_incident
from tests.people.test_people_api import make_team, make_user


async def open_incident(client, team: str, **overrides) -> str:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def act(client, iid: str, action: str, form: dict[str, str], **kw):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/ui/incidents/{iid}/{action}", data=form, follow_redirects=False, **kw
    )


async def test_the_page_shows_every_section_of_the_record(client, team: str) -> None:
    iid = await open_incident(client, team, title="Checkout errors after deploy")
    note = f"looked at the dashboards {secrets.token_hex(3)}"
    assert (
        await client.post(f"/api/v1/incidents/{iid}/notes", json={"body": note})
    ).status_code == 201
    update = f"We are investigating {secrets.token_hex(3)}"
    posted = await client.post(f"/api/v1/incidents/{iid}/updates", json={"message": update})
    assert posted.status_code == 201, posted.text
    page = await client.get(f"/ui/incidents/{iid}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Checkout errors after deploy" in html and 'data-testid="status">OPEN' in html
    for heading in (
        "Predictions", "Timeline", "Notes", "Roles and tasks", "Stakeholder updates",
        "Follow-ups", "Automated responses", "Escalation", "Alerts", "Related incidents",
        "Similar incidents", "Post-mortem",
    ):  # fmt: skip
        assert f">{heading}</h2>" in html, heading
    assert note in html and update in html
    first = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()[0]
    assert f'<span class="kind">{first["kind"]}</span>' in html  # the timeline's first entry
    # Every control is labelled.
    for control in ("status-select", "severity-select", "note-body", "update-message", "role-name"):
        assert f'for="{control}"' in html and f'id="{control}"' in html
    # Similar incidents come after the page, or as a page of their own without JavaScript.
    assert f'hx-get="/ui/incidents/{iid}/similar"' in html
    fragment = await client.get(f"/ui/incidents/{iid}/similar", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    whole = await client.get(f"/ui/incidents/{iid}/similar")
    assert whole.status_code == 200 and "<html" in whole.text
    # The timeline filters by kind.
    only_notes = await client.get(f"/ui/incidents/{iid}", params={"kind": "note"})
    assert only_notes.status_code == 200
    assert f'<span class="kind">{first["kind"]}</span>' not in only_notes.text


async def test_a_responder_works_the_incident_from_the_page(client, team: str) -> None:
    iid = await open_incident(client, team)
    ack = await act(client, iid, "status", {"status": "ACKNOWLEDGED"})
    assert ack.status_code == 303 and ack.headers["location"] == f"/ui/incidents/{iid}#summary"
    severity = await act(client, iid, "severity", {"severity": "SEV1_CRITICAL"})
    assert severity.status_code == 303
    note = await act(client, iid, "notes", {"body": "rolled back the **deploy**"})
    assert note.status_code == 303
    update = await act(client, iid, "updates", {"status": "identified", "message": "Cause found"})
    assert update.status_code == 303, update.text
    moved = await act(client, iid, "status", {"status": "RESOLVED", "note": "fixed by rollback"})
    assert moved.status_code == 303, moved.text

    incident = (await client.get(f"/api/v1/incidents/{iid}")).json()
    assert incident["status"] == "RESOLVED" and incident["severity"] == "SEV1_CRITICAL"
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert all(e["actor"] == "test-admin" for e in timeline[1:]), timeline
    notes = (await client.get(f"/api/v1/incidents/{iid}/notes")).json()
    assert notes[-1]["author"] == "test-admin"
    assert "<strong>deploy</strong>" in notes[-1]["body_html"]
    updates = (await client.get(f"/api/v1/incidents/{iid}/updates")).json()
    assert any(u["message"] == "Cause found" for u in updates)
    page = await client.get(f"/ui/incidents/{iid}")
    assert 'id="postmortem-link"' in page.text
    postmortem = await client.get(f"/api/v1/incidents/{iid}/postmortem?format=html")
    assert postmortem.status_code == 200 and "text/html" in postmortem.headers["content-type"]


async def test_refusals_show_the_apis_message_on_the_page(client, team: str) -> None:
    iid = await open_incident(client, team)
    bad = await act(client, iid, "severity", {"severity": "SEV9"}, headers={"Accept": "text/html"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert "<strong>severity</strong>" in bad.text
    empty = await act(client, iid, "notes", {"body": ""})
    assert empty.status_code == 400 and "<strong>body</strong>" in empty.text
    forbidden = await act(client, iid, "status", {"status": "CLOSED"})
    assert forbidden.status_code == 409 and "cannot move incident" in forbidden.text
    no_policy = await act(client, iid, "escalate", {"reason": "need help"})
    assert no_policy.status_code == 409 and "no escalation policy" in no_policy.text
    unknown_field = await act(client, iid, "status", {"status": "ACKNOWLEDGED", "evil": "1"})
    assert unknown_field.status_code == 400 and "<strong>evil</strong>" in unknown_field.text
    # Nothing of a refused action was kept.
    incident = (await client.get(f"/api/v1/incidents/{iid}")).json()
    assert incident["status"] == "OPEN" and incident["severity"] == "SEV2_HIGH"


async def test_roles_merge_and_responses_from_the_page(client, team: str) -> None:
    await make_team(client, team)
    person = await make_user(client, teams=[team])
    iid = await open_incident(client, team)
    given = await act(client, iid, "roles", {"role": "commander", "user_id": person["id"]})
    assert given.status_code == 303, given.text
    roles = (await client.get(f"/api/v1/incidents/{iid}/roles")).json()
    assert [(h["role"], h["user_id"]) for h in roles["current"]] == [("commander", person["id"])]
    nobody = await act(client, iid, "roles", {"role": "scribe"})
    assert nobody.status_code == 400 and "user_id" in nobody.text  # the admin key is nobody

    responses = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    pending = [r for r in responses if r["execution_status"] == "pending"]
    assert pending, responses  # the shipped policies match a SEV2 incident (no worker runs)
    rid = pending[0]["response_id"]
    assert (await act(client, iid, f"responses/{rid}/cancel", {})).status_code == 303
    cancelled = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    assert next(r for r in cancelled if r["response_id"] == rid)["execution_status"] == "skipped"
    again = await act(client, iid, f"responses/{rid}/cancel", {})
    assert again.status_code == 409 and rid in again.text
    assert (await act(client, iid, f"responses/{rid}/retry", {})).status_code == 303
    after = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    assert next(r for r in after if r["response_id"] == rid)["execution_status"] == "pending"
    moves = [
        e
        for e in (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
        if rid in str(e["details"]) or rid in (e["note"] or "")
    ]
    assert moves and all(e["actor"] == "test-admin" for e in moves), moves
    bad_command = await act(client, iid, "responses/x/explode", {})
    assert bad_command.status_code == 400

    target = await open_incident(client, team)
    merged = await act(client, iid, "merge", {"target_id": target, "reason": "same outage"})
    assert merged.status_code == 303 and merged.headers["location"] == f"/ui/incidents/{target}"
    source = (await client.get(f"/api/v1/incidents/{iid}")).json()
    assert source["status"] == "MERGED" and source["merged_into"] == target


async def test_another_teams_key_gets_nothing_of_the_incident(
    client, database_url: str, team: str
) -> None:
    iid = await open_incident(client, team)
    other = make_api_key(
        database_url,
        name="other-team",
        scopes=["incidents:read", "incidents:write"],
        team=f"{team}-x",
    )
    headers = {"Authorization": f"Bearer {other}"}
    for path in (f"/ui/incidents/{iid}", f"/ui/incidents/{iid}/similar"):
        answer = await client.get(path, headers=headers | {"Accept": "text/html"})
        assert answer.status_code == 404, path
        assert iid in answer.text and "Portfolio" not in answer.text
    for action, form in (
        ("status", {"status": "ACKNOWLEDGED"}),
        ("severity", {"severity": "SEV1_CRITICAL"}),
        ("notes", {"body": "hi"}),
        ("updates", {"message": "hi"}),
        ("escalate", {"reason": "hi"}),
        ("roles", {"role": "commander"}),
        ("merge", {"target_id": iid}),
        ("responses/r/cancel", {}),
    ):
        answer = await act(client, iid, action, form, headers=headers)
        assert answer.status_code == 404, action
    incident = (await client.get(f"/api/v1/incidents/{iid}")).json()
    assert incident["status"] == "OPEN" and incident["severity"] == "SEV2_HIGH"
    assert (await client.get(f"/api/v1/incidents/{iid}/notes")).json() == []


async def test_a_read_only_key_sees_no_controls_and_cannot_act(
    client, database_url: str, team: str
) -> None:
    iid = await open_incident(client, team)
    reader = make_api_key(database_url, name="reader", scopes=["incidents:read"], team=team)
    headers = {"Authorization": f"Bearer {reader}"}
    page = await client.get(f"/ui/incidents/{iid}", headers=headers)
    assert (
        page.status_code == 200 and 'action="/ui/incidents/' not in page.text.split("Timeline")[0]
    )
    refused = await act(client, iid, "status", {"status": "ACKNOWLEDGED"}, headers=headers)
    assert refused.status_code == 403


async def test_escalate_from_the_page_records_who_and_reaches_the_next_level(
    client, team: str
) -> None:
    schedule = {
        "name": f"esc-{team}",
        "team": team,
        "timezone": "UTC",
        "layers": [
            {
                "name": "primary",
                "rotation": "daily",
                "participants": ["ann", "bob"],
                "starts": "2024-01-01",
                "handoff_time": "09:00:00",
            }
        ],
    }
    made = await client.post("/api/v1/oncall-schedules", json=schedule)
    assert made.status_code == 201, made.text
    target = {"type": "schedule", "id": made.json()["id"]}
    policy = {
        "team": team,
        "name": "p",
        "levels": [
            {"delay_minutes": 30, "targets": [target]},
            {"delay_minutes": 30, "targets": [{"type": "person", "id": "manager"}]},
        ],
    }
    assert (await client.post("/api/v1/escalation-policies", json=policy)).status_code == 201
    iid = await open_incident(client, team, severity="SEV4_LOW")
    before = (await client.get(f"/api/v1/incidents/{iid}/escalation")).json()["escalation_level"]
    too_far = await act(client, iid, "escalate", {"reason": "x", "target_level": "11"})
    assert too_far.status_code == 400 and "<strong>target_level</strong>" in too_far.text
    done = await act(client, iid, "escalate", {"reason": "customer impact"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/ui/incidents/{iid}#escalation"
    state = (await client.get(f"/api/v1/incidents/{iid}/escalation")).json()
    assert state["escalation_level"] == before + 1
    assert any(n["created_by"] == "test-admin" for n in state["notifications"]), state
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    escalated = [e for e in timeline if "escalat" in e["kind"]]
    assert escalated and escalated[-1]["actor"] == "test-admin", timeline
    page = await client.get(f"/ui/incidents/{iid}")
    section = page.text.split(">Escalation</h2>")[1].split("</section>")[0]
    assert page.status_code == 200 and f"Level {before + 1}," in section and "bob" in section


async def test_roles_and_merges_from_the_page_name_who_did_them(client, team: str) -> None:
    await make_team(client, team)
    person = await make_user(client, teams=[team])
    iid = await open_incident(client, team)
    given = await act(client, iid, "roles", {"role": "scribe", "user_id": person["id"]})
    assert given.status_code == 303, given.text
    roles = (await client.get(f"/api/v1/incidents/{iid}/roles")).json()
    assert [(h["role"], h["assigned_by"]) for h in roles["current"]] == [("scribe", "test-admin")]
    stranger = await act(client, iid, "roles", {"role": "scribe", "user_id": "not-a-uuid"})
    assert stranger.status_code == 400 and "<strong>user_id</strong>" in stranger.text
    unknown = await act(client, iid, "roles", {"role": "juggler", "user_id": person["id"]})
    assert unknown.status_code == 400 and "juggler" in unknown.text

    target = await open_incident(client, team)
    merged = await act(client, iid, "merge", {"target_id": target, "reason": "same outage"})
    assert merged.status_code == 303
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert [e["actor"] for e in timeline if e["kind"] == "merged_into"] == ["test-admin"]
    itself = await open_incident(client, team)
    refused = await act(client, itself, "merge", {"target_id": itself})
    assert refused.status_code == 409 and "into itself" in refused.text
    nowhere = await act(client, itself, "merge", {"target_id": "INC-19990101-999"})
    assert nowhere.status_code == 404 and "<strong>target_id</strong>" in nowhere.text
    assert "incident INC-19990101-999 not found" in nowhere.text
    assert 'data-testid="status">OPEN' in nowhere.text  # the page again, not an error page


async def test_merging_into_another_teams_incident_is_as_if_it_did_not_exist(
    client, database_url: str, team: str
) -> None:
    theirs = await open_incident(client, f"{team}-x")
    mine = await open_incident(client, team)
    key = make_api_key(
        database_url, name="team-key", scopes=["incidents:read", "incidents:write"], team=team
    )
    headers = {"Authorization": f"Bearer {key}"}
    answer = await act(client, mine, "merge", {"target_id": theirs}, headers=headers)
    assert answer.status_code == 404 and f"incident {theirs} not found" in answer.text
    missing = await act(client, mine, "merge", {"target_id": "INC-19990101-998"}, headers=headers)
    # Another team's incident is answered exactly as one that does not exist.
    assert answer.text.replace(theirs, "X") == missing.text.replace("INC-19990101-998", "X")
    for iid in (theirs, mine):
        incident = (await client.get(f"/api/v1/incidents/{iid}")).json()
        assert incident["status"] == "OPEN" and incident["merged_into"] is None


async def test_roles_follow_ups_links_responses_and_similar_show_their_records(
    client, team: str
) -> None:
    await make_team(client, team)
    person = await make_user(client, name=f"grace-{secrets.token_hex(3)}", teams=[team])
    earlier = await open_incident(client, team, title="Checkout gateway timeouts in eu-west")
    iid = await open_incident(client, team, title="Checkout gateway timeouts again")
    held = await client.put(
        f"/api/v1/incidents/{iid}/roles/commander", json={"user_id": person["id"]}
    )
    assert held.status_code == 200, held.text
    follow_up = f"Add a gateway timeout alert {secrets.token_hex(3)}"
    made = await client.post(f"/api/v1/incidents/{iid}/follow-ups", json={"title": follow_up})
    assert made.status_code == 201, made.text
    linked = await client.post(
        f"/api/v1/incidents/{iid}/links", json={"type": "related", "incident_id": earlier}
    )
    assert linked.status_code == 201, linked.text

    html: str = (await client.get(f"/ui/incidents/{iid}")).text

    def section(name: str) -> str:
        return html.split(f">{name}</h2>")[1].split("</section>")[0]

    roles = section("Roles and tasks")
    assert person["name"] in roles and "commander" in roles
    tasks = (await client.get(f"/api/v1/incidents/{iid}/checklist")).json()
    assert tasks and all(f"{t['role']}: {t['title']}" in roles for t in tasks)
    assert follow_up in section("Follow-ups") and "no owner" in section("Follow-ups")
    assert f'href="/ui/incidents/{earlier}"' in section("Related incidents")
    shown = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
    assert shown and all(r["action_type"] in section("Automated responses") for r in shown)

    similar = await client.get(f"/ui/incidents/{iid}/similar", headers={"HX-Request": "true"})
    assert f'href="/ui/incidents/{earlier}"' in similar.text and "shared words" in similar.text
