"""SQL for schedules, overrides, escalation policies, escalation state and notifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn

_SCHEDULE = "id, name, timezone, layers, created_at, updated_at, updated_by"
_POLICY = "id, team, name, levels, repeat, created_at, updated_at, updated_by"
_OVERRIDE = "id, schedule_id, person, starts_at, ends_at, created_at, created_by"
_NOTIFICATION = """id, incident_id, tick, level, round, target_type, target, recipient, channel,
    delivery_status, idempotency_key, attempts, last_error, created_by, created_at,
    delivered_at"""


async def insert_schedule(conn: AsyncConn, v: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"insert into oncall_schedules (name, timezone, layers, updated_by)"
        f" values (%s, %s, %s, %s) on conflict (name) do nothing returning {_SCHEDULE}",
        (v["name"], v["timezone"], Jsonb(v["layers"]), v["actor"]),
    )
    return await cur.fetchone()


async def update_schedule(conn: AsyncConn, sid: UUID, v: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"update oncall_schedules set name = %s, timezone = %s, layers = %s, updated_by = %s,"
        f" updated_at = now() where id = %s returning {_SCHEDULE}",
        (v["name"], v["timezone"], Jsonb(v["layers"]), v["actor"], sid),
    )
    return await cur.fetchone()


async def get_schedule(conn: AsyncConn, sid: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(f"select {_SCHEDULE} from oncall_schedules where id = %s", (sid,))
    return await cur.fetchone()


async def schedule_named(conn: AsyncConn, name: str) -> dict[str, Any] | None:
    cur = await conn.execute(f"select {_SCHEDULE} from oncall_schedules where name = %s", (name,))
    return await cur.fetchone()


async def list_schedules(conn: AsyncConn) -> list[dict[str, Any]]:
    cur = await conn.execute(f"select {_SCHEDULE} from oncall_schedules order by name")
    return await cur.fetchall()


async def delete_schedule(conn: AsyncConn, sid: UUID) -> bool:
    cur = await conn.execute("delete from oncall_schedules where id = %s returning id", (sid,))
    return await cur.fetchone() is not None


async def policies_using_schedule(conn: AsyncConn, sid: UUID) -> list[str]:
    cur = await conn.execute(
        "select team from escalation_policies where jsonb_path_exists(levels,"
        " '$[*].targets[*] ? (@.type == \"schedule\" && @.id == $id)',"
        " jsonb_build_object('id', %s::text)) order by team",
        (str(sid),),
    )
    return [r["team"] for r in await cur.fetchall()]


async def overrides_for(conn: AsyncConn, sids: list[UUID]) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_OVERRIDE} from oncall_overrides where schedule_id = any(%s)"
        " order by starts_at, created_at",
        (sids,),
    )
    return await cur.fetchall()


async def insert_override(conn: AsyncConn, sid: UUID, v: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        f"insert into oncall_overrides (schedule_id, person, starts_at, ends_at, created_by)"
        f" values (%s, %s, %s, %s, %s) returning {_OVERRIDE}",
        (sid, v["person"], v["starts_at"], v["ends_at"], v["actor"]),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def delete_override(conn: AsyncConn, sid: UUID, oid: UUID) -> bool:
    cur = await conn.execute(
        "delete from oncall_overrides where id = %s and schedule_id = %s returning id", (oid, sid)
    )
    return await cur.fetchone() is not None


async def insert_policy(conn: AsyncConn, v: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"insert into escalation_policies (team, name, levels, repeat, updated_by)"
        f" values (%s, %s, %s, %s, %s) on conflict (team) do nothing returning {_POLICY}",
        (v["team"], v["name"], Jsonb(v["levels"]), v["repeat"], v["actor"]),
    )
    return await cur.fetchone()


async def update_policy(conn: AsyncConn, pid: UUID, v: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"update escalation_policies set team = %s, name = %s, levels = %s, repeat = %s,"
        f" updated_by = %s, updated_at = now() where id = %s returning {_POLICY}",
        (v["team"], v["name"], Jsonb(v["levels"]), v["repeat"], v["actor"], pid),
    )
    return await cur.fetchone()


async def get_policy(conn: AsyncConn, pid: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(f"select {_POLICY} from escalation_policies where id = %s", (pid,))
    return await cur.fetchone()


async def policy_for_team(conn: AsyncConn, team: str) -> dict[str, Any] | None:
    cur = await conn.execute(f"select {_POLICY} from escalation_policies where team = %s", (team,))
    return await cur.fetchone()


async def list_policies(conn: AsyncConn) -> list[dict[str, Any]]:
    cur = await conn.execute(f"select {_POLICY} from escalation_policies order by team")
    return await cur.fetchall()


async def delete_policy(conn: AsyncConn, pid: UUID) -> bool:
    cur = await conn.execute("delete from escalation_policies where id = %s returning id", (pid,))
    return await cur.fetchone() is not None


async def incident_for_update(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select incident_id, title, severity, status, assigned_team, affected_services"
        " from incidents where incident_id = %s for update",
        (incident_id,),
    )
    return await cur.fetchone()


async def create_state(conn: AsyncConn, incident_id: str, policy: dict[str, Any]) -> None:
    await conn.execute(
        "insert into incident_escalations (incident_id, policy_id, policy)"
        " values (%s, %s, %s) on conflict (incident_id) do nothing",
        (
            incident_id,
            policy["id"],
            Jsonb({"levels": policy["levels"], "repeat": policy["repeat"]}),
        ),
    )


async def get_state(
    conn: AsyncConn, incident_id: str, *, for_update: bool = True
) -> dict[str, Any] | None:
    lock = " for update" if for_update else ""
    cur = await conn.execute(
        "select incident_id, policy_id, policy, level, round, tick, last_escalated_at,"
        f" stopped_reason from incident_escalations where incident_id = %s{lock}",
        (incident_id,),
    )
    return await cur.fetchone()


async def set_state(
    conn: AsyncConn,
    incident_id: str,
    *,
    level: int,
    round_: int,
    tick: int | None,
    stopped_reason: str | None = None,
    escalated: bool = True,
) -> None:
    await conn.execute(
        "update incident_escalations set level = %s, round = %s, tick = coalesce(%s, tick),"
        " stopped_reason = %s, updated_at = now(),"
        " last_escalated_at = case when %s then now() else last_escalated_at end"
        " where incident_id = %s",
        (level, round_, tick, stopped_reason, escalated, incident_id),
    )


async def insert_notification(conn: AsyncConn, v: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        f"""insert into escalation_notifications (
                incident_id, tick, level, round, target_type, target, recipient, channel,
                idempotency_key, created_by, delivery_status, last_error)
            values (%(incident_id)s, %(tick)s, %(level)s, %(round)s, %(target_type)s,
                    %(target)s, %(recipient)s, %(channel)s, %(key)s, %(actor)s,
                    %(status)s, %(error)s)
            returning {_NOTIFICATION}""",
        v,
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def notifications_of_tick(conn: AsyncConn, incident_id: str, tick: int) -> list[int]:
    cur = await conn.execute(
        "select id from escalation_notifications where incident_id = %s and tick = %s order by id",
        (incident_id, tick),
    )
    return [r["id"] for r in await cur.fetchall()]


async def get_notification(conn: AsyncConn, nid: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_NOTIFICATION} from escalation_notifications where id = %s for update", (nid,)
    )
    return await cur.fetchone()


async def list_notifications(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_NOTIFICATION} from escalation_notifications where incident_id = %s order by id",
        (incident_id,),
    )
    return await cur.fetchall()


async def record_delivery(
    conn: AsyncConn, nid: int, *, delivered: bool, attempts: int, error: str | None
) -> dict[str, Any] | None:
    """The notification's delivery, on its row and on the incident's timeline."""
    cur = await conn.execute(
        f"""
        with upd as (
            update escalation_notifications set
                delivery_status = %(status)s, attempts = attempts + %(attempts)s,
                last_error = %(error)s,
                delivered_at = case when %(delivered)s then now() else null end
            where id = %(id)s and delivery_status = 'pending'
            returning {_NOTIFICATION}
        ), timeline as (
            insert into incident_timeline (incident_id, kind, actor, note, details)
            select incident_id, 'notification_' || delivery_status, 'system', last_error,
                   jsonb_build_object('level', level, 'round', round, 'target_type',
                       target_type, 'target', target, 'recipient', recipient,
                       'channel', channel, 'delivery_status', delivery_status)
            from upd
        )
        select * from upd
        """,
        {
            "id": nid,
            "status": "delivered" if delivered else "failed",
            "attempts": attempts,
            "error": error,
            "delivered": delivered,
        },
    )
    return await cur.fetchone()


async def record_escalation(conn: AsyncConn, incident: dict[str, Any], v: dict[str, Any]) -> None:
    """The escalation on the timeline and as an `incident_escalated` event."""
    details = {
        "previous_level": v["previous_level"],
        "escalation_level": v["level"],
        "round": v["round"],
        "manual": v["manual"],
        "targets": v["targets"],
    }
    await conn.execute(
        """
        with timeline as (
            insert into incident_timeline (incident_id, kind, actor, note, details)
            values (%(incident_id)s, 'escalated', %(actor)s, %(reason)s, %(details)s)
        )
        insert into outbox (event_type, incident_id, payload)
        values ('incident_escalated', %(incident_id)s, %(payload)s)
        """,
        {
            "incident_id": incident["incident_id"],
            "actor": v["actor"],
            "reason": v["reason"],
            "details": Jsonb(details),
            "payload": Jsonb(
                {
                    "incident_id": incident["incident_id"],
                    "severity": incident["severity"],
                    "assigned_team": incident["assigned_team"],
                    "previous_level": v["previous_level"],
                    "escalation_level": v["level"],
                    "round": v["round"],
                    "reason": v["reason"],
                    "actor": v["actor"],
                    "targets": v["targets"],
                }
            ),
        },
    )


async def stop_note(conn: AsyncConn, incident_id: str, reason: str) -> None:
    await conn.execute(
        "insert into incident_timeline (incident_id, kind, actor, note)"
        " values (%s, 'escalation_stopped', 'system', %s)",
        (incident_id, reason),
    )
