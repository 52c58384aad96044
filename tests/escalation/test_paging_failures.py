"""Every way a page can reach nobody is recorded (a failed notification on the timeline, in
`/escalation` and as a `paging_failed` event), falls through to the next level or to the
team's fallback, and `page_oncall` reports what happened. With a real worker."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from incident_service.app import create_app
from testkit.targets import Behaviour
from testkit.worker import wait_for
from tests.conftest import feed_until, new_incident

LAYER = {"name": "primary", "rotation": "daily", "participants": ["ann"], "starts": "2024-01-01"}


async def _policy(client, team: str, *levels: list[dict[str, str]], delay: float = 30) -> None:
    body = {
        "team": team,
        "name": "p",
        "levels": [{"delay_minutes": delay, "targets": targets} for targets in levels],
    }
    answer = await client.post("/api/v1/escalation-policies", json=body)
    assert answer.status_code == 201, answer.text


async def _open(client, team: str) -> str:
    # SEV2: the response policy pages the on-call (page_oncall).
    body = new_incident(team, title="Checkout errors", severity="SEV2_HIGH")
    answer = await client.post("/api/v1/incidents", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["incident_id"])


async def _page_oncall(
    client, iid: str, status: str = "succeeded", within: float = 40
) -> dict[str, Any]:
    """page_oncall's response once it is `status` (the escalation may move it to failed
    after it finished); as it is when that does not happen within `within` seconds."""

    async def current() -> dict[str, Any]:
        rows = (await client.get(f"/api/v1/incidents/{iid}/responses")).json()["responses"]
        return next(r for r in rows if r["action_type"] == "page_oncall")

    async def settled() -> dict[str, Any] | None:
        page = await current()
        return page if page["execution_status"] == status else None

    return await wait_for(settled, within=within) or await current()


async def _escalation(client, iid: str) -> list[dict[str, Any]]:
    body = (await client.get(f"/api/v1/incidents/{iid}/escalation")).json()
    return [n["notified"] | {"level": n["level"]} for n in body["notifications"]]


async def _until(client, iid: str, predicate, within: float = 40) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        rows = await _escalation(client, iid)
        return rows if predicate(rows) else None

    rows = await wait_for(check, within=within)
    assert rows, await _escalation(client, iid)
    return rows


async def _failures_recorded(client, iid: str, count: int) -> list[dict[str, Any]]:
    """The failures as `paging_failed` events and on the timeline; the events."""
    events = await feed_until(
        client,
        {"incident_id": iid},
        lambda ev: sum("paging_failed" in e for e in ev) >= count,
    )
    failed = [e["paging_failed"] for e in events if "paging_failed" in e]
    assert len(failed) == count, failed
    timeline = (await client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert sum(t["kind"] == "notification_failed" for t in timeline) == count, timeline
    return failed


def _fallback_delivered(rows: list[dict[str, Any]]) -> bool:
    return any(r["target_type"] == "fallback" and r["delivery_status"] == "delivered" for r in rows)


async def test_no_policy_is_recorded_and_the_fallback_is_paged(wf_client, worker, team) -> None:
    iid = await _open(wf_client, team)
    page = await _page_oncall(wf_client, iid, "failed")
    assert page["execution_status"] == "failed"
    assert f"team {team!r} has no escalation policy" in page["last_error"]
    assert "fallback: delivered" in page["last_error"]
    rows = await _until(wf_client, iid, _fallback_delivered)
    assert [(r["target_type"], r["delivery_status"]) for r in rows] == [
        ("policy", "failed"),
        ("fallback", "delivered"),
    ]
    (failed,) = await _failures_recorded(wf_client, iid, 1)
    assert failed["target_type"] == "policy" and "no escalation policy" in failed["reason"]


async def test_an_empty_schedule_falls_through_to_the_next_level_at_once(
    wf_client, worker, team
) -> None:
    empty = {
        "name": "empty",
        "team": team,
        "timezone": "UTC",
        "layers": [LAYER | {"starts": "2199-01-01"}],  # nobody on call until then
    }
    sid = (await wf_client.post("/api/v1/oncall-schedules", json=empty)).json()["id"]
    # 30-minute levels: level 2 within the test's wait only by falling through.
    await _policy(
        wf_client, team, [{"type": "schedule", "id": sid}], [{"type": "person", "id": "boss"}]
    )
    iid = await _open(wf_client, team)
    rows = await _until(
        wf_client,
        iid,
        lambda rs: any(r["level"] == 2 and r["delivery_status"] != "pending" for r in rs),
    )
    assert [(r["level"], r["recipient"], r["delivery_status"]) for r in rows] == [
        (1, "nobody", "failed"),
        (2, "boss", "delivered"),
    ]
    (failed,) = await _failures_recorded(wf_client, iid, 1)
    assert failed["level"] == 1 and "nobody is on call" in failed["reason"]
    page = await _page_oncall(wf_client, iid)
    assert page["execution_status"] == "succeeded", page  # level 2 was reached


async def test_a_broken_schedule_pages_the_fallback_instead_of_failing_the_workflow(
    wf_client, wf_database_url, worker, team
) -> None:
    # Stored before dates were bounded: the hand-off arithmetic overflowed on it.
    with psycopg.connect(wf_database_url) as conn:
        row = conn.execute(
            "insert into oncall_schedules (team, name, timezone, layers, updated_by)"
            " values (%s, 'far', 'UTC', %s, 'tests') returning id",
            (team, Jsonb([LAYER | {"starts": "9999-12-31"}])),
        ).fetchone()
    assert row is not None
    await _policy(wf_client, team, [{"type": "schedule", "id": str(row[0])}])
    iid = await _open(wf_client, team)
    rows = await _until(wf_client, iid, _fallback_delivered)
    assert [(r["level"], r["target_type"], r["delivery_status"]) for r in rows] == [
        (1, "schedule", "failed"),
        (1, "fallback", "delivered"),
    ]
    assert "'far' has an invalid layer" in (rows[0]["last_error"] or "")
    await _failures_recorded(wf_client, iid, 1)
    timeline = (await wf_client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert any(t["kind"] == "paging_fallback" for t in timeline)
    page = await _page_oncall(wf_client, iid)
    assert page["execution_status"] == "succeeded", page  # the team's fallback was reached


async def test_a_channel_down_fails_page_oncall_with_the_reasons(
    wf_client, worker, standin, team
) -> None:
    await _policy(
        wf_client, team, [{"type": "person", "id": "ann"}], [{"type": "person", "id": "boss"}]
    )
    standin.behave("/chat", Behaviour(status=503))
    try:
        iid = await _open(wf_client, team)
        rows = await _until(
            wf_client,
            iid,
            lambda rs: (
                any(r["target_type"] == "fallback" for r in rs)
                and all(r["delivery_status"] != "pending" for r in rs)
            ),
            within=60,
        )
        page = await _page_oncall(wf_client, iid, "failed", within=60)
    finally:
        standin.behave("/chat", Behaviour())
    assert [(r["level"], r["target_type"], r["delivery_status"]) for r in rows] == [
        (1, "person", "failed"),
        (2, "person", "failed"),
        (2, "fallback", "failed"),
    ]
    assert page["execution_status"] == "failed", page
    assert page["last_error"].startswith("nobody was paged: ")
    assert "503" in page["last_error"]  # the status, named
    failed = await _failures_recorded(wf_client, iid, 3)
    assert [f["recipient"] for f in failed] == ["ann", "boss", f"team {team}"]


async def test_a_target_without_contact_is_recorded_on_a_manual_escalation(
    wf_client, wf_settings, worker, team
) -> None:
    await _policy(
        wf_client, team, [{"type": "person", "id": "ann"}], [{"type": "person", "id": "boss"}]
    )
    iid = await _open(wf_client, team)
    await _until(wf_client, iid, lambda rs: any(r["level"] == 1 for r in rs))
    # An API process with no notification channel configured: nobody has a contact.
    no_contact = wf_settings.model_copy(update={"notify_webhook_url": None})
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=create_app(no_contact)) as other:
        other.headers.update(dict(wf_client.headers))
        answer = await other.post(
            f"/api/v1/incidents/{iid}/escalate", json={"reason": "now", "actor": "dave"}
        )
    assert answer.status_code == 200, answer.text
    notified = answer.json()["notified"]
    assert [(n["target_type"], n["delivery_status"]) for n in notified] == [
        ("person", "failed"),
        ("fallback", "failed"),
    ]
    assert all("NOTIFY_WEBHOOK_URL is not configured" in n["last_error"] for n in notified)
    failed = await _failures_recorded(wf_client, iid, 2)
    assert [f["actor"] for f in failed] == ["wf-admin", "wf-admin"]  # the key that asked
    assert [f["level"] for f in failed] == [2, 2]
