"""Follow-ups exported to the team's Jira through the outbound sync (the API, a real
worker running the DBOS workflows, the real `jira` client, the Jira stand-in): one issue
per follow-up, whatever is retried, and the follow-up closed when its issue is done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from jira import JIRA
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.databases import make_api_key, migrated_database
from testkit.worker import Worker, wait_for, worker_env
from tests.conftest import new_incident
from tests.integrations.conftest import JIRA_TOKEN, jira, jira_validator  # noqa: F401

POLL_S = 0.3


@pytest.fixture(scope="module")
def export_database_url(server_url: str) -> Iterator[str]:
    """This module's own database: its worker runs every workflow of the database."""
    with migrated_database(server_url, "incident_fu_jira_test") as url:
        yield url


@pytest.fixture(scope="module")
def worker(export_database_url, jira, tmp_path_factory) -> Iterator[Worker]:  # noqa: F811
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = worker_env(
        export_database_url,
        WORKFLOW_QUEUE_POLLING_S="0.05",
        INTEGRATIONS_SYNC_POLL_INTERVAL_S="0.2",
        INTEGRATIONS_SYNC_BACKOFF_BASE_S="0.2",
        INTEGRATIONS_SYNC_BACKOFF_MAX_S="2",
        INTEGRATIONS_JIRA_FOLLOW_UP_POLL_S=str(POLL_S),
        INTEGRATIONS_JIRA_URL=jira.url,
        INTEGRATIONS_JIRA_USER="bot@example.com",
        INTEGRATIONS_JIRA_TOKEN=JIRA_TOKEN,
        INTEGRATIONS_HTTP_TIMEOUT_S="1.5",
    )
    running = Worker(env, log, args=["--no-relay"]).start().wait_ready()
    yield running
    running.stop()
    assert JIRA_TOKEN not in log.read_text(errors="replace")


@pytest.fixture(scope="module")
async def api(settings: Settings, export_database_url: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    key = make_api_key(export_database_url, name="fu-admin", scopes=["admin"], rate_limit=100_000)
    app = create_app(settings.model_copy(update={"database_url": export_database_url}))
    async with AsyncTestClient(app=app) as client:
        client.headers.update({"Authorization": f"Bearer {key}"})
        yield client


def _issues(jira_server, follow_up_id: str) -> list[dict[str, Any]]:
    label = f"ims-fu-{follow_up_id}"
    return [i for i in jira_server.issues.values() if label in i["fields"]["labels"]]


async def _jira_integration(api, team: str, **config: object) -> str:
    body = {"kind": "jira", "team": team, "config": {"project": "OPS", **config}}
    created = await api.post("/api/v1/integrations", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["integration_id"])


async def _incident_settled(api, team: str) -> str:
    """An incident whose own Jira issue has been made (so faults set next hit the
    follow-up's export only)."""
    created = await api.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    incident_id = str(created.json()["incident_id"])

    async def synced() -> bool:
        state = (await api.get(f"/api/v1/incidents/{incident_id}/integrations")).json()
        return any(s["status"] == "succeeded" for s in state["syncs"])

    assert await wait_for(synced, within=40.0, interval=0.2)
    return incident_id


async def _exported(api, follow_up_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def linked() -> bool:
        seen.update((await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json())
        return seen.get("external_issue") is not None

    assert await wait_for(linked, within=40.0, interval=0.2), seen
    return seen


async def test_exported_once_and_closed_when_jira_says_done(worker, api, team, jira) -> None:  # noqa: F811
    integration_id = await _jira_integration(api, team, export_follow_ups=True)
    incident_id = await _incident_settled(api, team)
    # The create succeeds in Jira but its answer never comes: the retry must find the
    # issue by its label, not make a second one.
    jira.fail("POST", "/rest/api/2/issue", hang_s=2.5, after=True, times=1)
    created = await api.post(
        f"/api/v1/incidents/{incident_id}/follow-ups",
        json={"title": "Cap the pool size", "due": "2030-01-15", "priority": "high"},
    )
    assert created.status_code == 201, created.text
    follow_up_id = created.json()["follow_up_id"]

    exported = await _exported(api, follow_up_id)
    (issue,) = _issues(jira, follow_up_id)
    assert exported["external_issue"]["key"] == issue["key"]
    assert exported["external_issue"]["integration_id"] == integration_id
    assert exported["external_issue"]["url"].endswith(f"/browse/{issue['key']}")
    assert issue["fields"]["summary"] == f"[{incident_id}] Cap the pool size"
    assert issue["fields"]["issuetype"] == {"name": "Task"}
    assert issue["fields"]["duedate"] == "2030-01-15"

    # The link is written by the attempt, the sync's state right after it: wait for both.
    async def export_settled() -> list[tuple[str, bool]] | None:
        answer = await api.get(f"/api/v1/incidents/{incident_id}/integrations")
        export = [s for s in answer.json()["syncs"] if s["action"] == "follow_up_created"]
        states = [(s["status"], s["attempts"] >= 2) for s in export]
        return states if all(status == "succeeded" for status, _ in states) else None

    assert await wait_for(export_settled, within=20.0, interval=0.2) == [("succeeded", True)]

    # Changing the follow-up exports nothing more.
    moved = await api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"state": "in_progress"})
    assert moved.status_code == 200
    client = JIRA(server=jira.url, basic_auth=("bot@example.com", JIRA_TOKEN), max_retries=0)
    client.transition_issue(issue["key"], "31")  # Done, in the stand-in's workflow
    assert issue["status"] == "10001"

    async def closed() -> bool:
        got = (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
        return bool(got["state"] == "done")

    assert await wait_for(closed, within=20.0, interval=0.2)
    done = (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
    assert done["updated_by"] == "jira:sync" and done["completed_at"] is not None
    assert done["external_issue"]["status"] == "Done"
    assert len(_issues(jira, follow_up_id)) == 1
    timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    mine = [e for e in timeline if e["details"].get("follow_up_id") == follow_up_id]
    assert [(e["kind"], e["actor"]) for e in mine] == [
        ("follow_up_created", "fu-admin"),
        ("follow_up_exported", "integrations"),
        ("follow_up_updated", "fu-admin"),
        ("follow_up_updated", "jira:sync"),
    ]
    assert mine[-1]["details"]["to_state"] == "done"
    assert issue["key"] in mine[-1]["note"]


async def test_not_exported_without_the_flag(worker, api, team, jira) -> None:  # noqa: F811
    await _jira_integration(api, team)  # export_follow_ups defaults to false
    incident_id = await _incident_settled(api, team)
    created = await api.post(
        f"/api/v1/incidents/{incident_id}/follow-ups", json={"title": "Stays here"}
    )
    follow_up_id = created.json()["follow_up_id"]
    # A later follow-up of a team that exports shows the dispatcher is past this one.
    other = f"{team}-exports"
    await _jira_integration(api, other, export_follow_ups=True)
    later_incident = await _incident_settled(api, other)
    later = await api.post(
        f"/api/v1/incidents/{later_incident}/follow-ups", json={"title": "Exported"}
    )
    await _exported(api, later.json()["follow_up_id"])
    assert (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()["external_issue"] is None
    assert _issues(jira, follow_up_id) == []


async def test_the_flag_is_validated_like_the_other_options(client, team: str) -> None:
    for config, field in [
        ({"project": "OPS", "export_follow_ups": "yes"}, "export_follow_ups"),
        ({"project": "OPS", "follow_up_done_statuses": []}, "follow_up_done_statuses"),
        ({"project": "OPS", "follow_up_issue_type": ""}, "follow_up_issue_type"),
        ({"project": "OPS", "export_followups": True}, "export_followups"),
    ]:
        body = {"kind": "jira", "team": team, "config": config}
        answer = await client.post("/api/v1/integrations", json=body)
        assert answer.status_code == 400, (config, answer.text)
        assert field in answer.text
    ok = await client.post(
        "/api/v1/integrations",
        json={
            "kind": "jira",
            "team": team,
            "config": {"project": "OPS", "export_follow_ups": True},
        },
    )
    assert ok.status_code == 201 and ok.json()["config"]["export_follow_ups"] is True


async def _issue_status(jira_server, follow_up_id: str, wanted: str) -> bool:
    async def there() -> bool:
        return [i["status"] for i in _issues(jira_server, follow_up_id)] == [wanted]

    return await wait_for(there, within=40.0, interval=0.2)


async def test_closing_and_reopening_here_moves_the_issue(worker, api, team, jira) -> None:  # noqa: F811
    await _jira_integration(api, team, export_follow_ups=True)
    incident_id = await _incident_settled(api, team)
    created = await api.post(
        f"/api/v1/incidents/{incident_id}/follow-ups", json={"title": "Alert on lag"}
    )
    follow_up_id = created.json()["follow_up_id"]
    exported = await _exported(api, follow_up_id)
    key = exported["external_issue"]["key"]

    # Won't do closes the issue too (the stand-in's Done: the first transition into done).
    closed = await api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"state": "wont_do"})
    assert closed.status_code == 200, closed.text
    assert await _issue_status(jira, follow_up_id, "10001")
    # Reopened here: the workflow's Reopen takes the issue back to To Do.
    reopened = await api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"state": "open"})
    assert reopened.status_code == 200, reopened.text
    assert await _issue_status(jira, follow_up_id, "1")
    done = await api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"state": "done"})
    assert done.status_code == 200
    assert await _issue_status(jira, follow_up_id, "10001")

    async def settled() -> bool:
        got = (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
        return bool(got["external_issue"]["status"] == "Done")

    assert await wait_for(settled, within=20.0, interval=0.2)
    timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
    moved = [
        (e["actor"], e["details"]["status"])
        for e in timeline
        if e["kind"] == "follow_up_issue_moved" and e["details"]["follow_up_id"] == follow_up_id
    ]
    assert moved == [("integrations", "Done"), ("integrations", "To Do"), ("integrations", "Done")]
    assert all(key in e["note"] for e in timeline if e["kind"] == "follow_up_issue_moved")
    syncs = (await api.get(f"/api/v1/incidents/{incident_id}/integrations")).json()["syncs"]
    mirrored = [s["status"] for s in syncs if s["action"] == "follow_up_updated"]
    assert mirrored == ["succeeded"] * 3
    # Still one issue, and the done here was not echoed back as a second close.
    assert len(_issues(jira, follow_up_id)) == 1
    got = (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
    assert got["state"] == "done" and got["updated_by"] == "fu-admin"


async def test_an_issue_its_workflow_cannot_reopen_stays_done(worker, api, team, jira) -> None:  # noqa: F811
    squad = f"{team}-noreopen"
    # The team names a reopen transition its workflow does not have.
    await _jira_integration(
        api, squad, export_follow_ups=True, follow_up_reopen_transition="Back to work"
    )
    incident_id = await _incident_settled(api, squad)
    created = await api.post(
        f"/api/v1/incidents/{incident_id}/follow-ups", json={"title": "Rotate the keys"}
    )
    follow_up_id = created.json()["follow_up_id"]
    await _exported(api, follow_up_id)
    await api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"state": "done"})
    assert await _issue_status(jira, follow_up_id, "10001")
    reopened = await api.patch(f"/api/v1/follow-ups/{follow_up_id}", json={"state": "open"})
    assert reopened.status_code == 200

    async def stuck() -> list[dict[str, Any]]:
        timeline = (await api.get(f"/api/v1/incidents/{incident_id}/timeline")).json()
        return [e for e in timeline if e["kind"] == "follow_up_issue_stuck"]

    async def said() -> bool:
        return bool(await stuck())

    assert await wait_for(said, within=40.0, interval=0.2)
    (entry,) = await stuck()
    assert "no transition out of done" in entry["note"]
    assert [i["status"] for i in _issues(jira, follow_up_id)] == ["10001"]
    syncs = (await api.get(f"/api/v1/incidents/{incident_id}/integrations")).json()["syncs"]
    assert [s["status"] for s in syncs if s["action"] == "follow_up_updated"] == [
        "succeeded",
        "skipped",
    ]
    # Several polls later the follow-up is still open: the issue did not move into done.
    await _poll_rounds(api, follow_up_id, 4)
    got = (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
    assert got["state"] == "open", got


async def _poll_rounds(api, follow_up_id: str, rounds: int) -> None:
    """Wait until the poll has looked at the follow-up's issue `rounds` more times."""
    seen: set[str] = set()

    async def looked() -> bool:
        got = (await api.get(f"/api/v1/follow-ups/{follow_up_id}")).json()
        seen.add(got["external_issue"]["synced_at"])
        return len(seen) > rounds

    assert await wait_for(looked, within=30.0, interval=POLL_S / 3)
