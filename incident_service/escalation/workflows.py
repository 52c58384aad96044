"""The escalation workflow (DBOS): notify level 1 at once, then the next level each time
a level's delay passes without an acknowledgement, repeating the policy `repeat` times.

Each automatic step has a number (`tick`). `advance` decides and records the tick's
escalation in one transaction and is a no-op when that tick is already recorded, so a
step re-run after a crash neither skips nor repeats a level. Delays are DBOS durable
sleeps: after a restart the workflow wakes when the original timer would have fired.
Notifications carry `Idempotency-Key` = their key, so a re-sent one is dropped.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from incident_service.db import AsyncConn
from incident_service.escalation import repository, service
from incident_service.escalation.notify import build_channel, deliver
from incident_service.workflows import engine, inbox

SYSTEM = "system"


def _delay(state: dict[str, Any], level: int) -> float:
    return float(state["policy"]["levels"][level - 1]["delay_minutes"]) * 60.0


async def _stop(conn: AsyncConn, state: dict[str, Any], tick: int, reason: str) -> dict[str, Any]:
    await repository.set_state(
        conn,
        state["incident_id"],
        level=state["level"],
        round_=state["round"],
        tick=tick,
        stopped_reason=reason,
        escalated=False,
    )
    await repository.stop_note(conn, state["incident_id"], reason)
    return {"stop": reason}


@DBOS.step(name="escalation.advance", **engine.DB_STEP)
async def advance_step(incident_id: str, tick: int) -> dict[str, Any]:
    async with engine.runtime().pool.connection() as conn:
        incident = await repository.incident_for_update(conn, incident_id)
        if incident is None:
            return {"stop": "incident not found"}
        state = await service.ensure_state(conn, incident)
        if state is None:
            return {"stop": f"team {incident['assigned_team']} has no escalation policy"}
        if state["tick"] >= tick:  # this tick was recorded before a crash: replay it
            if state["stopped_reason"]:
                return {"stop": state["stopped_reason"]}
            ids = await repository.notifications_of_tick(conn, incident_id, tick)
            return {"notifications": ids, "delay_s": _delay(state, max(state["level"], 1))}
        if state["stopped_reason"]:
            return {"stop": state["stopped_reason"]}
        if incident["status"] not in service.UNACKNOWLEDGED:
            return await _stop(conn, state, tick, f"incident is {incident['status']}")
        if tick == 1 and state["level"] > 0:  # a person escalated before this started
            await repository.set_state(
                conn,
                incident_id,
                level=state["level"],
                round_=state["round"],
                tick=tick,
                escalated=False,
            )
            return {"notifications": [], "delay_s": _delay(state, state["level"])}
        following = service.next_step(state)
        if following is None:
            return await _stop(conn, state, tick, "every level notified without acknowledgement")
        level, round_ = following
        escalated = await service.escalate_to(
            conn,
            incident,
            state,
            level=level,
            round_=round_,
            tick=tick,
            actor=SYSTEM,
            reason=f"not acknowledged: level {level}" + (f", round {round_ + 1}" if round_ else ""),
            channel="webhook",
        )
        pending = [n["id"] for n in escalated.notifications if n["delivery_status"] == "pending"]
        return {"notifications": pending, "delay_s": escalated.delay_s}


@DBOS.step(name="escalation.deliver", **engine.DB_STEP)
async def deliver_step(notification_id: int) -> str:
    rt = engine.runtime()
    async with rt.pool.connection() as conn:
        cur = await conn.execute(
            "select n.*, i.title, i.severity, i.assigned_team from escalation_notifications n"
            " join incidents i using (incident_id) where n.id = %s",
            (notification_id,),
        )
        row = await cur.fetchone()
    if row is None or row["delivery_status"] != "pending":
        return "gone" if row is None else str(row["delivery_status"])
    channel = build_channel(rt.settings, rt.http, row["channel"])
    ok, attempts, error = await deliver(channel, row, row)
    async with rt.pool.connection() as conn:
        await repository.record_delivery(
            conn, notification_id, delivered=ok, attempts=attempts, error=error
        )
    return "delivered" if ok else "failed"


@DBOS.workflow(name="escalation.run")
async def run_escalation(incident_id: str) -> str:
    tick = 0
    while True:
        tick += 1
        step = await advance_step(incident_id, tick)
        if "stop" in step:
            return str(step["stop"])
        for notification_id in step["notifications"]:
            await deliver_step(notification_id)
        await DBOS.sleep_async(float(step["delay_s"]))


def workflow_id(incident_id: str) -> str:
    return f"escalation-{incident_id}"


async def start(incident_id: str) -> None:
    # Started at once, not queued: an escalation sleeps for most of its life, and asleep
    # on the queue it would hold one of the queue's worker_concurrency slots meanwhile.
    await engine.start_now(run_escalation, workflow_id(incident_id), incident_id)


async def _on_start(conn: AsyncConn, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        await start(row["incident_id"])


inbox.register_kind("escalation_start", _on_start)
