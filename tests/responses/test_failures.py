"""Failing, hanging and cancelled actions: retries with backoff, deadlines, stop_on_failure,
and people retrying or cancelling through the API."""

from __future__ import annotations

import itertools

from testkit.targets import Behaviour
from testkit.worker import query, wait_for
from tests.conftest import feed_until, new_incident


async def _responses(client, incident_id: str) -> list[dict]:
    body = (await client.get(f"/api/v1/incidents/{incident_id}/responses")).json()
    return body["responses"]


def _done(responses: list[dict]) -> bool:
    return bool(responses) and all(
        r["execution_status"] in ("succeeded", "failed", "skipped") for r in responses
    )


async def _settled(client, incident_id: str, within: float = 60) -> list[dict]:
    async def check():
        rows = await _responses(client, incident_id)
        return rows if _done(rows) else None

    rows = await wait_for(check, within=within)
    assert rows, await _responses(client, incident_id)
    return rows


async def test_retried_with_backoff_until_it_succeeds(wf_client, worker, standin, team) -> None:
    service = f"flaky-{team}"
    # The stand-in answers 503 to the first 2 requests of each idempotency key.
    standin.behave("/automation/scale_up_service", Behaviour(fail_first=2))
    incident = (
        await wf_client.post(
            "/api/v1/incidents",
            json=new_incident(team, affected_services=[service], assignee=None),
        )
    ).json()
    rows = await _settled(wf_client, incident["incident_id"])
    scale = next(r for r in rows if r["action_type"] == "scale_up_service")
    assert scale["execution_status"] == "succeeded" and scale["attempts"] == 3
    calls = [
        r for r in standin.by_path("/automation/scale_up_service") if r.key == scale["response_id"]
    ]
    assert len(calls) == 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps  # 1 s then 2 s
    timeline = (await wf_client.get(f"/api/v1/incidents/{incident['incident_id']}/timeline")).json()
    assert sum(t["kind"] == "response_attempt_failed" for t in timeline) == 2
    standin.behave("/automation/scale_up_service", Behaviour())


async def test_failure_for_good_stops_later_actions_only_when_told(
    wf_client, worker, standin, team
) -> None:
    standin.behave("/automation/rollback_deploy", Behaviour(status=422))
    incident = (
        await wf_client.post(
            "/api/v1/incidents",
            json=new_incident(
                team, severity="SEV4_LOW", title="bad deploy", labels={"cause": "deploy"}
            ),
        )
    ).json()
    iid = incident["incident_id"]
    rows = await _settled(wf_client, iid)
    assert [(r["action_type"], r["execution_status"]) for r in rows] == [
        ("rollback_deploy", "failed"),
        ("run_runbook", "skipped"),
    ]
    assert rows[0]["attempts"] == 1 and "422" in rows[0]["last_error"]  # a 4xx is not retried
    # The failure is named, never the target's answer (readable by every reader of the API).
    assert "stand-in told to fail" not in rows[0]["last_error"]
    assert "stops the actions after it" in rows[1]["last_error"]
    events = await feed_until(
        wf_client,
        {"incident_id": iid},
        lambda ev: sum("automated_response_updated" in e for e in ev) >= 3,
    )
    updates = [e["automated_response_updated"] for e in events if "automated_response_updated" in e]
    assert [(u["action_type"], u["execution_status"]) for u in updates] == [
        ("rollback_deploy", "in_progress"),
        ("rollback_deploy", "failed"),
        ("run_runbook", "skipped"),
    ]

    # A person fixes the target and retries: it runs again and succeeds.
    standin.behave("/automation/rollback_deploy", Behaviour())
    url = f"/api/v1/incidents/{iid}/responses/{rows[0]['response_id']}"
    retried = await wf_client.post(f"{url}/retry", json={"actor": "erin", "note": "fixed creds"})
    assert retried.status_code == 200 and retried.json()["execution_status"] == "pending"
    # The key's owner acts; the body's actor is only who it says it acts for.
    assert retried.json()["updated_by"] == "wf-admin (on behalf of erin)"
    rows = await _settled(wf_client, iid)
    assert rows[0]["execution_status"] == "succeeded" and rows[0]["updated_by"] == "system"
    again = await wf_client.post(f"{url}/retry")
    assert again.status_code == 409 and again.json()["execution_status"] == "succeeded"
    missing = await wf_client.post(f"/api/v1/incidents/{iid}/responses/nope/retry")
    assert missing.status_code == 404


async def test_a_hanging_target_times_out_per_attempt_and_can_be_cancelled(
    wf_client, worker, standin, team
) -> None:
    # ACTION_HTTP_TIMEOUT_S is 2 in the worker: each attempt gives up after 2 s.
    standin.behave("/automation/rollback_deploy", Behaviour(hang_s=30))
    incident = (
        await wf_client.post(
            "/api/v1/incidents",
            json=new_incident(team, severity="SEV4_LOW", title="hang", labels={"cause": "deploy"}),
        )
    ).json()
    iid = incident["incident_id"]

    async def running():
        rows = await _responses(wf_client, iid)
        return rows if rows and rows[0]["execution_status"] == "in_progress" else None

    rows = await wait_for(running, within=60)
    assert rows, "the first action starts"
    cancel = await wf_client.post(
        f"/api/v1/incidents/{iid}/responses/{rows[0]['response_id']}/cancel",
        json={"actor": "frank"},
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["execution_status"] == "skipped"
    rows = await _settled(wf_client, iid)
    assert rows[0]["execution_status"] == "skipped"
    assert rows[0]["updated_by"] == "wf-admin (on behalf of frank)"
    timeline = (await wf_client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert "wf-admin (on behalf of frank)" in {e["actor"] for e in timeline}
    assert "frank" not in {e["actor"] for e in timeline}
    # The next action still ran (rollback has stop_on_failure, but it was cancelled, not failed).
    assert rows[1]["execution_status"] == "succeeded"
    standin.behave("/automation/rollback_deploy", Behaviour())
    again = await wf_client.post(
        f"/api/v1/incidents/{iid}/responses/{rows[1]['response_id']}/cancel"
    )
    assert again.status_code == 409


async def test_paging_a_team_without_an_escalation_policy_fails_for_good(
    wf_client, worker, team
) -> None:
    incident = (
        await wf_client.post("/api/v1/incidents", json=new_incident(team, severity="SEV2_HIGH"))
    ).json()
    iid = incident["incident_id"]
    rows = await _settled(wf_client, iid)
    page = next(r for r in rows if r["action_type"] == "page_oncall")
    assert page["execution_status"] == "failed" and page["attempts"] == 1
    assert f"team {team!r} has no escalation policy" in page["last_error"]
    # It does not stop the others, and no escalation was cued.
    assert all(r["execution_status"] == "succeeded" for r in rows if r is not page), rows
    cues = query(
        worker.env["DATABASE_URL"],
        "select 1 from workflow_inbox where incident_id = %s and kind = 'escalation_start'",
        (iid,),
    )
    assert cues == []
