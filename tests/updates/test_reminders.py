"""The update reminder end to end, with a real worker process: an overdue update raises
`incident_update_due` once per interval, an update restarts the clock, a restarted worker
carries on from the database (one reminder for the intervals it missed, not one each), and
a resolved incident raises none. The team's cadence is 3 seconds (0.05 minutes)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from testkit.targets import StandIn, targets_env
from testkit.worker import QUICK_WORKER, Worker, query, wait_for, worker_env
from tests.conftest import feed_until, new_incident

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

EVERY = timedelta(seconds=3)


@pytest.fixture
def restartable(
    wf_database_url: str, standin: StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Worker]]:
    """Workers of this test only (it kills one); the last is stopped at the end."""
    log = tmp_path_factory.mktemp("updates-worker") / "worker.log"
    env = worker_env(wf_database_url, QUICK_WORKER, targets_env(standin))
    workers = [Worker(env, log).start().wait_ready()]
    yield workers
    for worker in workers:
        worker.stop()


def _reminders(url: str, incident_id: str) -> list[tuple[datetime, datetime]]:
    rows = query(
        url,
        "select due_at, raised_at from update_reminders where incident_id = %s order by due_at",
        (incident_id,),
    )
    return [(r[0], r[1]) for r in rows]  # type: ignore[misc]


def _aligned(due: datetime, anchor: datetime) -> bool:
    """`due` is a whole number (at least 1) of intervals after `anchor`."""
    steps = (due - anchor) / EVERY
    return steps >= 1 and abs(steps - round(steps)) < 1e-6


async def test_reminders_follow_the_cadence_survive_a_restart_and_stop_at_resolve(
    wf_client: AsyncTestClient,  # type: ignore[type-arg]
    wf_database_url: str,
    restartable: list[Worker],
    standin: StandIn,
    team: str,
) -> None:
    url = wf_database_url
    put = await wf_client.put(
        f"/api/v1/teams/{team}/update-cadence", json={"every_minutes": {"SEV2_HIGH": 0.05}}
    )
    assert put.status_code == 200, put.text
    created = await wf_client.post(
        "/api/v1/incidents", json=new_incident(team, severity="SEV2_HIGH", assignee="ann")
    )
    assert created.status_code == 201, created.text
    iid = created.json()["incident_id"]
    [(opened,)] = query(url, "select created_at from incidents where incident_id = %s", (iid,))
    assert isinstance(opened, datetime)

    # Overdue since creation: a reminder per interval, each at its slot, none twice.
    assert await wait_for(lambda: len(_reminders(url, iid)) >= 2, within=30)
    before = _reminders(url, iid)
    dues = [d for d, _ in before]
    assert all(_aligned(d, opened) for d in dues), (opened, dues)
    assert all(b - a >= EVERY for a, b in itertools.pairwise(dues)), dues

    # An update restarts the clock: the next reminder is due whole intervals after it.
    posted = await wf_client.post(f"/api/v1/incidents/{iid}/updates", json={"message": "On it."})
    assert posted.status_code == 201, posted.text
    [(at,)] = query(
        url, "select max(posted_at) from incident_updates where incident_id = %s", (iid,)
    )
    assert isinstance(at, datetime)

    def after_update() -> list[datetime]:
        return [d for d, _ in _reminders(url, iid) if d > at]

    assert await wait_for(after_update, within=30), "a reminder after the update"
    assert all(_aligned(d, at) for d in after_update()), (at, after_update())

    # Killed and restarted: the reminders carry on from the tables; the intervals missed
    # while no worker ran raise one reminder between them, not one each.
    restartable[0].kill()
    killed = datetime.now(tz=at.tzinfo)
    last_due = max(d for d, _ in _reminders(url, iid))
    await asyncio.sleep(2.5 * EVERY.total_seconds())
    restartable.append(Worker(restartable[0].env, restartable[0].log).start().wait_ready())
    ready = datetime.now(tz=at.tzinfo)
    assert (ready - killed) >= 2 * EVERY
    assert await wait_for(lambda: [d for d, r in _reminders(url, iid) if r > ready], within=30), (
        "reminders after the restart"
    )
    missed = [d for d, _ in _reminders(url, iid) if last_due < d < ready]
    assert len(missed) <= 1, (last_due, ready, missed)
    everything = [d for d, _ in _reminders(url, iid)]
    assert len(everything) == len(set(everything))
    assert all(b - a >= EVERY for a, b in itertools.pairwise(everything))

    # Resolved: no reminder after that.
    resolved = await wf_client.put(f"/api/v1/incidents/{iid}/status", json={"status": "RESOLVED"})
    assert resolved.status_code == 200, resolved.text
    [(resolved_at,)] = query(
        url, "select resolved_at from incidents where incident_id = %s", (iid,)
    )
    assert isinstance(resolved_at, datetime)
    await asyncio.sleep(3 * EVERY.total_seconds())
    assert not [r for _, r in _reminders(url, iid) if r > resolved_at]

    # The feed has both kinds of event, the reminders addressed to the assignee.
    total = len(_reminders(url, iid))
    events = await feed_until(
        wf_client,
        {"incident_id": iid, "limit": 1000},
        lambda evs: sum("incident_update_due" in e for e in evs) == total,
    )
    due = [e["incident_update_due"] for e in events if "incident_update_due" in e]
    assert len(due) == total
    assert {(d["recipient_type"], d["recipient"]) for d in due} == {("assignee", "ann")}
    assert {d["every_minutes"] for d in due} == {0.05}
    assert [e for e in events if "incident_update_posted" in e]
    timeline = (await wf_client.get(f"/api/v1/incidents/{iid}/timeline")).json()
    assert sum(e["kind"] == "stakeholder_update_due" for e in timeline) == total
