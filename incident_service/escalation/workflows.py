"""The escalation workflow (DBOS): notify level 1 at once, then the next level each time
a level's delay passes without an acknowledgement, repeating the policy `repeat` times.

Each automatic step has a number (`tick`). `advance` decides and records the tick's
escalation in one transaction and is a no-op when that tick is already recorded, so a
step re-run after a crash neither skips nor repeats a level. Delays are DBOS durable
waits (`recv` with a timeout): after a restart the workflow wakes when the original timer
would have fired, and an acknowledgement wakes it at once (`watch_acknowledgements`).
Notifications carry `Idempotency-Key` = their key, so a re-sent one is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from dbos import DBOS, DBOSConfiguredInstance

from incident_service.db import LISTEN_SETTLE_S, AsyncConn, fetch_all, fetch_one, listen_loop
from incident_service.durable import DB_STEP, INSTANCE, Resources
from incident_service.escalation import repository, service
from incident_service.escalation.notify import Channel, deliver
from incident_service.escalation.policies import Actor
from incident_service.responses import repository as responses_repository
from incident_service.responses.service import FAILED, IN_PROGRESS, SUCCEEDED

SYSTEM = "system"
log = logging.getLogger(__name__)


def _delay(state: dict[str, Any], level: int) -> float:
    return float(state["policy"]["levels"][level - 1]["delay_minutes"]) * 60.0


async def _stop(
    conn: AsyncConn,
    state: dict[str, Any],
    tick: int,
    reason: str,
    notifications: list[int] | None = None,
) -> dict[str, Any]:
    await _hold(conn, state, tick, stopped_reason=reason)
    await repository.stop_note(conn, state["incident_id"], reason)
    return {"stop": reason, "notifications": notifications or []}


async def _hold(
    conn: AsyncConn, state: dict[str, Any], tick: int, *, stopped_reason: str | None = None
) -> None:
    """Record tick `tick` without moving to another level or round (and why it stopped,
    when it did)."""
    await repository.set_state(
        conn,
        state["incident_id"],
        level=state["level"],
        round_=state["round"],
        tick=tick,
        stopped_reason=stopped_reason,
        escalated=False,
    )


def _next(notifications: list[int], delay_s: float, *, attempted: bool) -> dict[str, Any]:
    # The wake-up time is part of the step's checkpointed output, so a replay waits for
    # the same moment. `attempted`: the step notified a level's targets (when none of them
    # is reached, the workflow falls through to the next level at once).
    return {
        "notifications": notifications,
        "delay_s": delay_s,
        "wake_at": time.time() + delay_s,
        "attempted": attempted,
    }


def workflow_id(incident_id: str) -> str:
    return f"escalation-{incident_id}"


# --- acknowledgements: wake the escalation waiting for its next level ----------------------

ACK_TOPIC = "acknowledged"
# Sent on the same topic when the incident moved to another team: the edit handed the
# escalation over to that team's policy from level 0 (or stopped it) in its statement.
MOVED = "team_moved"

# Status changes out of an unacknowledged status, in feed order (the event feed's horizon:
# nothing that commits later can appear behind a position already passed), with every row
# of the page returned so the position moves past the other events too.
_ACKS = """
select txid::text as txid, id, incident_id,
       event_type = 'incident_status_changed'
       and payload ->> 'previous_status' = any(%(unacknowledged)s)
       and not (payload ->> 'status' = any(%(unacknowledged)s)) as acknowledged,
       event_type = 'incident_updated' and payload ->> 'field' = 'assigned_team' as moved
from outbox
where txid < pg_snapshot_xmin(pg_current_snapshot()) and (txid, id) > (%(txid)s::xid8, %(id)s)
order by outbox.txid, outbox.id
limit 1000
"""
_END = """
select txid::text as txid, id from outbox where txid < pg_snapshot_xmin(pg_current_snapshot())
order by outbox.txid desc, outbox.id desc limit 1
"""


@DBOS.dbos_class("escalation")
class EscalationWorkflows(DBOSConfiguredInstance):
    """The escalation workflow, its steps and the acknowledgement watcher, on the worker's
    resources and notification channels (by name)."""

    def __init__(self, resources: Resources, channels: Mapping[str, Channel]) -> None:
        self.pool = resources.pool
        self.poll_s = resources.settings.worker_poll_s
        self.start_now = resources.start_now
        self.channels = channels
        super().__init__(INSTANCE)

    @DBOS.step(name="escalation.advance", **DB_STEP)
    async def advance_step(
        self, incident_id: str, tick: int, reached_nobody: bool = False
    ) -> dict[str, Any]:
        """Tick `tick`: the next level (at once when the last one reached nobody:
        `reached_nobody`), the team's fallback after a round whose last level reached nobody,
        or the end."""
        async with self.pool.connection() as conn:
            incident = await repository.incident_for_update(conn, incident_id)
            if incident is None:
                return {"stop": "incident not found"}
            state = await service.ensure_state(conn, incident)
            if state is None:  # the policy went away after the escalation was cued
                reason = service.no_policy_reason(incident["assigned_team"])
                await service.record_no_policy(conn, incident, SYSTEM)
                fallback = await service.page_fallback(
                    conn, incident, key="nopolicy", level=0, round_=0, tick=None, reason=reason
                )
                return {"stop": reason, "notifications": [fallback["id"]]}
            if state["tick"] >= tick:  # this tick was recorded before a crash: replay it
                rows = await repository.notifications_of_tick(conn, incident_id, tick)
                ids = [r["id"] for r in rows]
                if state["stopped_reason"]:
                    return {"stop": state["stopped_reason"], "notifications": ids}
                attempted = bool(rows) and all(r["target_type"] != service.FALLBACK for r in rows)
                return _next(ids, _delay(state, max(state["level"], 1)), attempted=attempted)
            if state["stopped_reason"]:
                return {"stop": state["stopped_reason"]}
            if incident["status"] not in service.UNACKNOWLEDGED:
                return await _stop(conn, state, tick, f"incident is {incident['status']}")
            if tick == 1 and state["level"] > 0:  # a person escalated before this started
                await _hold(conn, state, tick)
                return _next([], _delay(state, state["level"]), attempted=False)
            following = service.next_step(state)
            last_level = len(state["policy"]["levels"])
            if reached_nobody and state["level"] == last_level:
                # Every level of this round reached nobody: tell the team's fallback, then wait
                # the last level's delay as usual (the next round, or the end).
                fallback = await service.page_fallback(
                    conn,
                    incident,
                    key=f"r{state['round']}",
                    level=state["level"],
                    round_=state["round"],
                    tick=tick,
                    reason=f"every level reached nobody (round {state['round'] + 1}):"
                    " the team's fallback is paged",
                )
                if following is None:
                    reason = "every level notified without acknowledgement"
                    return await _stop(conn, state, tick, reason, [fallback["id"]])
                await _hold(conn, state, tick)
                return _next([fallback["id"]], _delay(state, state["level"]), attempted=False)
            if following is None:
                return await _stop(
                    conn, state, tick, "every level notified without acknowledgement"
                )
            level, round_ = following
            reason = f"not acknowledged: level {level}" + (
                f", round {round_ + 1}" if round_ else ""
            )
            if reached_nobody:
                reason = f"level {state['level']} reached nobody: level {level}"
            escalated = await service.escalate_to(
                conn,
                incident,
                state,
                level=level,
                round_=round_,
                tick=tick,
                actor=Actor(SYSTEM),
                reason=reason,
                channel="webhook",
            )
            pending = [
                n["id"] for n in escalated.notifications if n["delivery_status"] == "pending"
            ]
            return _next(pending, escalated.delay_s, attempted=True)

    @DBOS.step(name="escalation.deliver", **DB_STEP)
    async def deliver_step(self, notification_id: int) -> str:
        async with self.pool.connection() as conn:
            row = await fetch_one(
                conn,
                "select n.*, i.title, i.severity, i.assigned_team from escalation_notifications n"
                " join incidents i using (incident_id) where n.id = %s",
                (notification_id,),
            )
        if row is None or row["delivery_status"] != "pending":
            return "gone" if row is None else str(row["delivery_status"])
        error: str | None
        channel = self.channels.get(row["channel"])
        if channel is None:
            ok, attempts, error = (
                False,
                0,
                f"no notification channel {row['channel']!r} on this worker",
            )
        else:
            ok, attempts, error = await deliver(channel, row, row)
        async with self.pool.connection() as conn:
            await repository.record_delivery(
                conn, notification_id, delivered=ok, attempts=attempts, error=error
            )
        return "delivered" if ok else "failed"

    @DBOS.step(name="escalation.report", **DB_STEP)
    async def report_step(self, incident_id: str) -> str:
        """The first page reached nobody: recorded for `page_oncall`, whose response is moved
        to failed when it already ran (it reads the record itself when it runs later)."""
        async with self.pool.connection() as conn:
            reason = await repository.mark_first_page_failed(conn, incident_id)
            for row in await fetch_all(
                conn,
                "select response_id from automated_responses where incident_id = %s"
                " and action_type = 'page_oncall'"
                " and execution_status in ('in_progress', 'succeeded')",
                (incident_id,),
            ):
                await responses_repository.transition(
                    conn,
                    row["response_id"],
                    from_any=[IN_PROGRESS, SUCCEEDED],
                    to=FAILED,
                    actor=SYSTEM,
                    error=reason,
                    note=reason,
                )
        return reason

    @DBOS.step(name="escalation.acknowledged", **DB_STEP)
    async def acknowledged_step(self, incident_id: str) -> bool:
        async with self.pool.connection() as conn:
            row = await fetch_one(
                conn, "select status from incidents where incident_id = %s", (incident_id,)
            )
        return row is None or row["status"] not in service.UNACKNOWLEDGED

    async def _wait(self, incident_id: str, wake_at: float) -> None:
        """Until the level's delay is over or the incident is acknowledged, whichever comes
        first. A durable `recv` with a timeout rather than a sleep: `watch_acknowledgements`
        sends a message when the incident leaves OPEN, so the escalation stops at once instead
        of at its next timer. A message is checked against the incident (a spurious one must
        not cut the delay short). recv is always called, whatever the clock says, so a replay
        takes the same path as the first run (DBOS keeps the first run's deadline)."""
        while True:
            left = max(wake_at - time.time(), 0.001)
            message = await DBOS.recv_async(ACK_TOPIC, timeout_seconds=left)
            if message is None:
                return  # the delay is over
            if message == MOVED:
                return  # another team's policy took over (or stopped it): advance now
            if await self.acknowledged_step(incident_id):
                return  # the next advance records why it stops

    @DBOS.workflow(name="escalation.run")
    async def run_escalation(self, incident_id: str) -> str:
        """Levels until acknowledged or exhausted. A level that reaches nobody (nobody on call,
        a broken schedule, a channel down) falls through to the next one at once, and a round
        that reached nobody ends with the team's fallback. The first page (up to the first
        wait) that reached nobody is reported to `page_oncall`."""
        tick = 0
        reached_nobody = False
        first_page = True
        first_attempted = first_delivered = 0
        while True:
            tick += 1
            step = await self.advance_step(incident_id, tick, reached_nobody)
            delivered = 0
            for notification_id in step.get("notifications", []):
                if await self.deliver_step(notification_id) == "delivered":
                    delivered += 1
            if first_page:
                first_attempted += len(step.get("notifications", [])) + int(
                    bool(step.get("attempted"))
                )
                first_delivered += delivered
            reached_nobody = bool(step.get("attempted")) and delivered == 0
            if "stop" in step or not reached_nobody:
                if first_page and first_attempted and not first_delivered:
                    await self.report_step(incident_id)
                first_page = False
            if "stop" in step:
                return str(step["stop"])
            if not reached_nobody:
                await self._wait(incident_id, float(step["wake_at"]))

    async def start(self, incident_id: str) -> None:
        # Started at once, not queued: an escalation sleeps for most of its life, and asleep
        # on the queue it would hold one of the queue's worker_concurrency slots meanwhile.
        await self.start_now(self.run_escalation, workflow_id(incident_id), incident_id)

    async def on_start(self, conn: AsyncConn, rows: list[dict[str, Any]]) -> None:
        """The inbox handler of `escalation_start` rows."""
        for row in rows:
            await self.start(row["incident_id"])

    async def watch_acknowledgements(self, url: str, stop: asyncio.Event) -> None:
        """Tell an incident's escalation workflow when the incident is acknowledged (leaves
        OPEN), so it stops now rather than at its next level's timer, and when it moved to
        another team (`MOVED`), so the new team's first level is paged now.

        Best effort by design: the position is this worker's own, in memory, from the end of
        the feed when it starts; every worker sends (a repeated message is harmless). A missed
        message (a worker restart) only means the escalation stops at its next wake-up, as the
        timer's check of the incident's status always did.
        """
        unacknowledged = sorted(service.UNACKNOWLEDGED)
        position: tuple[str, int] | None = None

        async def each_round() -> bool:
            nonlocal position
            async with self.pool.connection() as conn:
                if position is None:
                    end = await fetch_one(conn, _END)
                    position = (end["txid"], end["id"]) if end else ("0", 0)
                params = {"txid": position[0], "id": position[1], "unacknowledged": unacknowledged}
                rows = await fetch_all(conn, _ACKS, params)
            if rows:
                position = (rows[-1]["txid"], rows[-1]["id"])
            for incident_id in {r["incident_id"] for r in rows if r["acknowledged"]}:
                await _send_ack(incident_id)
            for incident_id in {r["incident_id"] for r in rows if r["moved"]}:
                await _send_ack(incident_id, MOVED)
            return len(rows) >= 1000

        await listen_loop(
            url,
            "outbox",
            poll_s=self.poll_s,
            stop=stop,
            each_round=each_round,
            settle_s=LISTEN_SETTLE_S,
            name="acknowledgements",
        )


async def _send_ack(incident_id: str, message: str = "acknowledged") -> None:
    try:
        await DBOS.send_async(workflow_id(incident_id), message, topic=ACK_TOPIC)
    except Exception:  # no escalation for this incident (no policy), or it has ended
        log.debug("no escalation to wake for %s", incident_id, exc_info=True)
