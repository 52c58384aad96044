"""The on-call pages as served: who is on call and the next hand-offs from real schedules,
overrides and the escalation policy and schedule edited in forms (through the API's
services, recorded with the key's name), the API's messages beside the fields, the write
scope, and the team boundary."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape

from testkit.databases import make_api_key

Client = AsyncTestClient[Any]


async def _ui_post(client: Client, path: str, **kwargs: Any) -> Any:
    """A form post as a browser makes it, its redirect not followed."""
    return await client.post(path, follow_redirects=False, **kwargs)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _schedule(client: Client, team: str, people: list[str]) -> dict[str, Any]:
    body = {
        "team": team,
        "name": f"primary-{secrets.token_hex(3)}",
        "timezone": "Europe/Paris",
        "layers": [
            {
                "name": "day",
                "rotation": "daily",
                "participants": people,
                "starts": (date.today() - timedelta(days=10)).isoformat(),
                "handoff_time": "09:00:00",
            }
        ],
    }
    answer = await client.post("/api/v1/oncall-schedules", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _policy(client: Client, team: str, schedule_id: str) -> dict[str, Any]:
    body = {
        "team": team,
        "name": f"{team} policy",
        "levels": [
            {"delay_minutes": 5, "targets": [{"type": "schedule", "id": schedule_id}]},
            {"delay_minutes": 10, "targets": [{"type": "person", "id": "lead"}]},
        ],
        "repeat": 1,
    }
    answer = await client.post("/api/v1/escalation-policies", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
async def rota(client: Client, team: str) -> dict[str, Any]:
    schedule = await _schedule(client, team, ["ann", "bob", "cid"])
    policy = await _policy(client, team, schedule["id"])
    return {"team": team, "schedule": schedule, "policy": policy}


def _key(database_url: str, team: str | None, scopes: list[str]) -> dict[str, str]:
    name = f"{team or 'all'}-{'+'.join(scopes)}-{secrets.token_hex(3)}"
    return _bearer(make_api_key(database_url, name=name, scopes=scopes, team=team))


async def test_board_shows_who_is_on_call_and_the_next_handoffs(
    client: Client, rota: dict[str, Any]
) -> None:
    sid = rota["schedule"]["id"]
    api = await client.get(f"/api/v1/oncall-schedules/{sid}/oncall")
    assert api.status_code == 200, api.text
    page = await client.get("/ui/on-call")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    shown = re.search(rf'data-oncall="{sid}">([^<]*)<', page.text)
    assert shown is not None
    assert shown.group(1) == api.json()["person"]
    # The next three people in turn each take over at a hand-off, at 09:00 Paris time.
    section = page.text.split(f'id="s-{sid}"')[1].split("</section>")[0]
    order = ["ann", "bob", "cid"]
    now = order.index(api.json()["person"])
    following = [order[(now + k) % 3] for k in (1, 2, 3)]
    cells = re.findall(r"</time></td><td>(\w+)</td><td>layer:day</td>", section)
    assert cells[:3] == following
    assert f'href="/ui/on-call/policies/{rota["policy"]["id"]}"' in page.text


async def test_override_added_and_removed_from_the_form(
    client: Client, rota: dict[str, Any]
) -> None:
    sid = rota["schedule"]["id"]
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    form = {
        "person": "zoe",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "_csrf_token": "",
    }
    added = await _ui_post(client, f"/ui/on-call/schedules/{sid}/overrides", data=form)
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/ui/on-call"
    stored = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()["overrides"]
    assert [(o["person"], o["created_by"]) for o in stored] == [("zoe", "test-admin")]
    assert stored[0]["starts_at"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
    page = await client.get("/ui/on-call")
    assert f'data-oncall="{sid}">zoe<' in page.text
    removed = await _ui_post(
        client,
        f"/ui/on-call/schedules/{sid}/overrides/{stored[0]['id']}/delete",
        data={"_csrf_token": ""},
    )
    assert removed.status_code == 303, removed.text
    assert (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()["overrides"] == []


async def test_override_form_shows_the_apis_messages(client: Client, rota: dict[str, Any]) -> None:
    sid = rota["schedule"]["id"]
    form = {"person": "", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-01T10:00"}
    answer = await _ui_post(client, f"/ui/on-call/schedules/{sid}/overrides", data=form)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-field="person"' in answer.text
    # The same values through the API give the same message.
    api = await client.post(
        f"/api/v1/oncall-schedules/{sid}/overrides",
        json={"person": "x", "starts_at": "2030-01-02T10:00Z", "ends_at": "2030-01-01T10:00Z"},
    )
    assert api.status_code == 400
    message = api.json()["extra"][0]["message"]
    assert "ends_at must be after starts_at" in message
    answer = await _ui_post(
        client, f"/ui/on-call/schedules/{sid}/overrides", data=form | {"person": "x"}
    )
    assert answer.status_code == 422
    assert message in answer.text
    assert 'value="x"' in answer.text  # what was typed is kept


async def test_policy_edited_in_the_form_is_recorded(client: Client, rota: dict[str, Any]) -> None:
    pid = rota["policy"]["id"]
    form_page = await client.get(f"/ui/on-call/policies/{pid}")
    assert form_page.status_code == 200, form_page.text
    assert f"schedule:{rota['schedule']['id']}" in form_page.text
    form = {
        "_csrf_token": "",
        "name": "renamed",
        "repeat": "2",
        "levels.0.delay_minutes": "3",
        "levels.0.targets": f"schedule:{rota['schedule']['id']}\nperson:amy",
        "levels.1.delay_minutes": "",
        "levels.1.targets": "",
    }
    saved = await _ui_post(client, f"/ui/on-call/policies/{pid}", data=form)
    assert saved.status_code == 303, saved.text
    stored = (await client.get(f"/api/v1/escalation-policies/{pid}")).json()
    assert stored["name"] == "renamed"
    assert stored["repeat"] == 2
    assert stored["updated_by"] == "test-admin"
    assert stored["levels"] == [
        {
            "delay_minutes": 3.0,
            "targets": [
                {"type": "schedule", "id": rota["schedule"]["id"]},
                {"type": "person", "id": "amy"},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("field", "value", "key", "status"),
    [
        ("levels.0.delay_minutes", "5000", "levels.0.delay_minutes", 422),
        ("levels.0.delay_minutes", "soon", "levels.0.delay_minutes", 422),
        ("repeat", "11", "repeat", 422),
        ("levels.0.targets", "pager:ann", "levels.0.targets.0.type", 422),
        # The service's own check: a schedule target must be one of the team's schedules.
        (
            "levels.0.targets",
            f"schedule:{'0' * 8}-0000-4000-8000-{'0' * 12}",
            "levels.0.targets.0.id",
            400,
        ),
    ],
)
async def test_policy_form_shows_the_apis_message_beside_the_field(
    client: Client, rota: dict[str, Any], field: str, value: str, key: str, status: int
) -> None:
    pid = rota["policy"]["id"]
    form = {
        "name": "p",
        "repeat": "0",
        "levels.0.delay_minutes": "5",
        "levels.0.targets": "person:ann",
    } | {field: value}
    answer = await _ui_post(client, f"/ui/on-call/policies/{pid}", data=form)
    assert answer.status_code == status, answer.text
    assert f'data-field="{key}"' in answer.text
    body = dict(rota["policy"])
    body = {k: body[k] for k in ("team", "name", "levels", "repeat")}
    api_levels = [{"delay_minutes": 5, "targets": [{"type": "person", "id": "ann"}]}]
    if field == "levels.0.delay_minutes":
        api_levels[0]["delay_minutes"] = float(value) if value.isdigit() else value  # type: ignore[assignment]
    elif field == "repeat":
        body["repeat"] = int(value)
    else:
        kind, _, ident = value.partition(":")
        api_levels[0]["targets"] = [{"type": kind, "id": ident}]
    api = await client.put(f"/api/v1/escalation-policies/{pid}", json=body | {"levels": api_levels})
    assert api.status_code == 400, api.text
    messages = {e["key"]: e["message"] for e in api.json()["extra"]}
    assert key in messages
    assert str(escape(messages[key])) in answer.text  # as the page escapes it
    unchanged = (await client.get(f"/api/v1/escalation-policies/{pid}")).json()
    assert unchanged["name"] == rota["policy"]["name"]


async def test_schedule_edited_in_the_form(client: Client, rota: dict[str, Any]) -> None:
    sid = rota["schedule"]["id"]
    form_page = await client.get(f"/ui/on-call/schedules/{sid}")
    assert form_page.status_code == 200, form_page.text
    assert 'value="Europe/Paris"' in form_page.text
    form = {
        "name": "renamed-rota",
        "timezone": "Mars/Olympus",
        "layers.0.name": "day",
        "layers.0.rotation": "weekly",
        "layers.0.participants": "ann\nbob",
        "layers.0.starts": "2025-01-06",
        "layers.0.handoff_time": "10:00",
        "layers.0.handoff_weekday": "2",
        "layers.1.name": "",
        "layers.1.participants": "",
    }
    bad = await _ui_post(client, f"/ui/on-call/schedules/{sid}", data=form)
    assert bad.status_code == 422, bad.text
    assert 'data-field="timezone"' in bad.text
    assert "not an IANA time zone" in bad.text
    saved = await _ui_post(
        client, f"/ui/on-call/schedules/{sid}", data=form | {"timezone": "America/New_York"}
    )
    assert saved.status_code == 303, saved.text
    stored = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()
    assert stored["name"] == "renamed-rota"
    assert stored["timezone"] == "America/New_York"
    assert stored["updated_by"] == "test-admin"
    assert stored["layers"][0]["participants"] == ["ann", "bob"]
    assert stored["layers"][0]["handoff_weekday"] == 2
    assert len(stored["layers"]) == 1


async def test_schedule_name_taken_is_shown_not_a_500(client: Client, rota: dict[str, Any]) -> None:
    other = await _schedule(client, rota["team"], ["x"])
    form = {
        "name": rota["schedule"]["name"],
        "timezone": "UTC",
        "layers.0.name": "day",
        "layers.0.rotation": "daily",
        "layers.0.participants": "x",
        "layers.0.starts": "2025-01-06",
    }
    answer = await _ui_post(client, f"/ui/on-call/schedules/{other['id']}", data=form)
    assert answer.status_code == 409, answer.text
    assert "already exists in this team" in answer.text


@pytest.mark.parametrize("scopes", [["incidents:read"], ["incidents:read", "incidents:write"]])
async def test_writes_need_config_write(
    client: Client, database_url: str, rota: dict[str, Any], scopes: list[str]
) -> None:
    headers = _key(database_url, rota["team"], scopes)
    sid, pid = rota["schedule"]["id"], rota["policy"]["id"]
    assert (await client.get("/ui/on-call", headers=headers)).status_code == 200
    form = {"person": "zoe", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00"}
    attempts = [
        (f"/ui/on-call/schedules/{sid}/overrides", form),
        (f"/ui/on-call/policies/{pid}", {"name": "x", "repeat": "0"}),
        (f"/ui/on-call/schedules/{sid}", {"name": "x", "timezone": "UTC"}),
    ]
    for path, data in attempts:
        answer = await _ui_post(client, path, data=data, headers=headers)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert "config:write" in answer.text
    stored = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()
    assert stored["overrides"] == []
    assert stored["name"] == rota["schedule"]["name"]


async def test_a_team_key_writes_its_own_team_and_is_recorded(
    client: Client, database_url: str, rota: dict[str, Any]
) -> None:
    headers = _key(database_url, rota["team"], ["incidents:read", "config:write"])
    sid = rota["schedule"]["id"]
    form = {"person": "yan", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00"}
    answer = await _ui_post(
        client, f"/ui/on-call/schedules/{sid}/overrides", data=form, headers=headers
    )
    assert answer.status_code == 303, answer.text
    stored = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()["overrides"]
    assert stored[0]["created_by"].startswith(f"{rota['team']}-incidents:read+config:write")


async def test_another_teams_schedules_and_policy_are_absent(
    client: Client, database_url: str, rota: dict[str, Any]
) -> None:
    mine = f"team-{secrets.token_hex(4)}"
    my_schedule = await _schedule(client, mine, ["mia"])
    headers = _key(database_url, mine, ["admin"])
    board = await client.get("/ui/on-call", headers=headers)
    assert board.status_code == 200
    assert my_schedule["id"] in board.text
    assert rota["schedule"]["id"] not in board.text
    assert rota["schedule"]["name"] not in board.text
    assert rota["policy"]["id"] not in board.text
    sid, pid = rota["schedule"]["id"], rota["policy"]["id"]
    override = await client.post(
        f"/api/v1/oncall-schedules/{sid}/overrides",
        json={"person": "ann", "starts_at": "2030-01-01T10:00Z", "ends_at": "2030-01-01T12:00Z"},
    )
    oid = override.json()["id"]
    for path in (f"/ui/on-call/schedules/{sid}", f"/ui/on-call/policies/{pid}"):
        answer = await client.get(path, headers=headers)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
    writes = [
        (
            f"/ui/on-call/schedules/{sid}/overrides",
            {"person": "x", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00"},
        ),
        (f"/ui/on-call/schedules/{sid}/overrides/{oid}/delete", {}),
        (
            f"/ui/on-call/policies/{pid}",
            {
                "name": "x",
                "repeat": "0",
                "levels.0.delay_minutes": "1",
                "levels.0.targets": "person:x",
            },
        ),
        (
            f"/ui/on-call/schedules/{sid}",
            {
                "name": "x",
                "timezone": "UTC",
                "layers.0.name": "l",
                "layers.0.rotation": "daily",
                "layers.0.participants": "x",
                "layers.0.starts": "2025-01-01",
            },
        ),
    ]
    for path, data in writes:
        answer = await _ui_post(client, path, data=data, headers=headers)
        assert answer.status_code == 404, (path, answer.text)
    after = (await client.get(f"/api/v1/oncall-schedules/{sid}")).json()
    assert after["name"] == rota["schedule"]["name"]
    assert [o["person"] for o in after["overrides"]] == ["ann"]
    policy = (await client.get(f"/api/v1/escalation-policies/{pid}")).json()
    assert policy["name"] == rota["policy"]["name"]


async def test_a_missing_schedule_is_a_404_page(client: Client) -> None:
    answer = await client.get(f"/ui/on-call/schedules/{'0' * 8}-0000-4000-8000-{'0' * 12}")
    assert answer.status_code == 404
    assert "not found" in answer.text


async def test_a_blank_row_is_skipped_and_messages_stay_on_their_row(
    client: Client, rota: dict[str, Any]
) -> None:
    pid = rota["policy"]["id"]
    form = {
        "name": "p",
        "repeat": "0",
        "levels.0.delay_minutes": "",
        "levels.0.targets": "",
        "levels.1.delay_minutes": "-1",
        "levels.1.targets": "person:ann",
    }
    answer = await _ui_post(client, f"/ui/on-call/policies/{pid}", data=form)
    assert answer.status_code == 422, answer.text
    # The model saw one level (its levels.0); the page names the row it was typed in.
    assert 'data-field="levels.1.delay_minutes"' in answer.text
    assert 'data-field="levels.0.delay_minutes"' not in answer.text
    assert 'value="-1"' in answer.text


async def test_a_past_override_leaves_the_board(client: Client, rota: dict[str, Any]) -> None:
    sid = rota["schedule"]["id"]
    past = await client.post(
        f"/api/v1/oncall-schedules/{sid}/overrides",
        json={
            "person": "old-cover",
            "starts_at": "2024-01-01T00:00Z",
            "ends_at": "2024-01-02T00:00Z",
        },
    )
    assert past.status_code == 201, past.text
    coming = await client.post(
        f"/api/v1/oncall-schedules/{sid}/overrides",
        json={
            "person": "new-cover",
            "starts_at": "2030-01-01T00:00Z",
            "ends_at": "2030-01-02T00:00Z",
        },
    )
    assert coming.status_code == 201, coming.text
    board = (await client.get("/ui/on-call")).text
    assert "new-cover" in board
    assert "old-cover" not in board


async def test_a_read_only_key_sees_no_write_controls(
    client: Client, database_url: str, rota: dict[str, Any]
) -> None:
    headers = _key(database_url, rota["team"], ["incidents:read"])
    board = await client.get("/ui/on-call", headers=headers)
    assert board.status_code == 200
    assert "Read only" in board.text
    assert "Add override" not in board.text
    form = await client.get(f"/ui/on-call/policies/{rota['policy']['id']}", headers=headers)
    assert form.status_code == 200
    assert "Save policy" not in form.text
    admin = await client.get(f"/ui/on-call/policies/{rota['policy']['id']}")
    assert "Save policy" in admin.text
    assert "Read only" not in admin.text
