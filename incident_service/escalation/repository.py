"""SQL for schedules, overrides, escalation policies, escalation state and notifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.changes import (
    entry_of_parameters,
    json_object,
    outbox_event,
    timeline_entry,
)
from incident_service.crud import Table
from incident_service.db import AsyncConn, fetch_all, fetch_one

_OVERRIDE = "id, schedule_id, person, starts_at, ends_at, created_at, created_by, on_behalf_of"
_NOTIFICATION = """id, incident_id, tick, level, round, target_type, target, recipient, channel,
    delivery_status, idempotency_key, attempts, last_error, created_by, created_at,
    delivered_at"""

SCHEDULES = Table(
    name="oncall_schedules",
    noun="schedule",
    columns="id, team, name, timezone, layers, created_at, updated_at, updated_by, on_behalf_of",
    order_by="team, name",
    jsonb=frozenset({"layers"}),
    unique="on constraint oncall_schedules_team_name_key",
)
POLICIES = Table(
    name="escalation_policies",
    noun="escalation policy",
    columns="id, team, name, levels, repeat, created_at, updated_at, updated_by, on_behalf_of",
    order_by="team",
    jsonb=frozenset({"levels"}),
    unique="(team)",
)


async def policies_using_schedule(conn: AsyncConn, sid: UUID) -> list[str]:
    return [
        r["team"]
        for r in await fetch_all(
            conn,
            "select team from escalation_policies where jsonb_path_exists(levels,"
            " '$[*].targets[*] ? (@.type == \"schedule\" && @.id == $id)',"
            " jsonb_build_object('id', %s::text)) order by team",
            (str(sid),),
        )
    ]


async def overrides_for(conn: AsyncConn, sids: list[UUID]) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        f"select {_OVERRIDE} from oncall_overrides where schedule_id = any(%s)"
        " order by starts_at, created_at",
        (sids,),
    )


async def insert_override(conn: AsyncConn, sid: UUID, v: dict[str, Any]) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        f"""insert into oncall_overrides
                (schedule_id, person, starts_at, ends_at, created_by, on_behalf_of)
            values (%s, %s, %s, %s, %s, %s) returning {_OVERRIDE}""",
        (sid, v["person"], v["starts_at"], v["ends_at"], v["actor"], v["on_behalf_of"]),
    )
    assert row is not None
    return row


async def delete_override(conn: AsyncConn, sid: UUID, oid: UUID, *, by: str) -> bool:
    """Delete the override, recording who did (as `crud.Table.delete` does)."""
    return (
        await fetch_one(
            conn,
            "with gone as (delete from oncall_overrides"
            " where id = %(oid)s and schedule_id = %(sid)s returning *)"
            " insert into config_deletions (resource, resource_id, team, row, deleted_by)"
            " select 'oncall_overrides', g.id, s.team, to_jsonb(g), %(by)s"
            " from gone g join oncall_schedules s on s.id = g.schedule_id returning resource_id",
            {"oid": oid, "sid": sid, "by": by[:200]},
        )
        is not None
    )


async def policy_for_team(conn: AsyncConn, team: str) -> dict[str, Any] | None:
    return await fetch_one(
        conn, f"select {POLICIES.columns} from escalation_policies where team = %s", (team,)
    )


async def incident_for_update(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        "select incident_id, title, severity, status, assigned_team, affected_services"
        " from incidents where incident_id = %s for update",
        (incident_id,),
    )


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
    return await fetch_one(
        conn,
        "select incident_id, policy_id, policy, level, round, tick, last_escalated_at,"
        f" stopped_reason from incident_escalations where incident_id = %s{lock}",
        (incident_id,),
    )


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


_DELIVERY = json_object(
    "level", "round", "target_type", "target", "recipient", "channel", "delivery_status"
)


def _failed(rows: str) -> str:
    """CTEs recording the failed notifications among `rows` (a CTE of notification rows):
    on the incident's timeline and as a `paging_failed` event."""
    entry = timeline_entry(
        "notification_failed",
        source=rows,
        actor="'system'",
        note="last_error",
        details=_DELIVERY,
        where="delivery_status = 'failed'",
    )
    event = outbox_event(
        "paging_failed",
        source=f"{rows} r join incidents i using (incident_id)",
        incident_id="r.incident_id",
        payload=json_object(
            *("incident_id", "level", "round", "target_type", "target", "recipient", "channel"),
            of="r",
            severity="i.severity",
            assigned_team="i.assigned_team",
            reason="coalesce(r.last_error, 'not delivered')",
            actor="r.created_by",
        ),
        where="r.delivery_status = 'failed'",
    )
    return f"failed_timeline as ({entry}), failed_event as ({event})"


_DELIVERED_ENTRY = timeline_entry(
    "notification_delivered",
    source="upd",
    actor="'system'",
    note="last_error",
    details=_DELIVERY,
    where="delivery_status = 'delivered'",
)


async def insert_notification(conn: AsyncConn, v: dict[str, Any]) -> dict[str, Any]:
    """A notification (once per key: a step re-run finds the first one), and when it is
    born failed (nobody to tell), its failure on the timeline and in the feed."""
    row = await fetch_one(
        conn,
        f"""with ins as (
                insert into escalation_notifications (
                    incident_id, tick, level, round, target_type, target, recipient, channel,
                    idempotency_key, created_by, delivery_status, last_error)
                values (%(incident_id)s, %(tick)s, %(level)s, %(round)s, %(target_type)s,
                        %(target)s, %(recipient)s, %(channel)s, %(key)s, %(actor)s,
                        %(status)s, %(error)s)
                on conflict (idempotency_key) do nothing
                returning {_NOTIFICATION}
            ), {_failed("ins")}
            select {_NOTIFICATION} from ins
            union all
            select {_NOTIFICATION} from escalation_notifications
            where idempotency_key = %(key)s and not exists (select 1 from ins)""",
        v,
    )
    assert row is not None
    return row


async def notifications_of_tick(
    conn: AsyncConn, incident_id: str, tick: int
) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "select id, target_type from escalation_notifications"
        " where incident_id = %s and tick = %s order by id",
        (incident_id, tick),
    )


async def list_notifications(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        f"select {_NOTIFICATION} from escalation_notifications where incident_id = %s order by id",
        (incident_id,),
    )


async def record_delivery(
    conn: AsyncConn, nid: int, *, delivered: bool, attempts: int, error: str | None
) -> dict[str, Any] | None:
    """The notification's delivery, on its row and on the incident's timeline; a failure
    also as a `paging_failed` event."""
    return await fetch_one(
        conn,
        f"""
        with upd as (
            update escalation_notifications set
                delivery_status = %(status)s, attempts = attempts + %(attempts)s,
                last_error = %(error)s,
                delivered_at = case when %(delivered)s then now() else null end
            where id = %(id)s and delivery_status = 'pending'
            returning {_NOTIFICATION}
        ), delivered_timeline as ({_DELIVERED_ENTRY}
        ), {_failed("upd")}
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


_ESCALATED_ENTRY = timeline_entry(
    "escalated",
    source=None,
    incident_id="%(incident_id)s",
    actor="%(actor)s",
    note="%(reason)s",
    details="%(details)s",
)
_ESCALATED_EVENT = outbox_event(
    "incident_escalated", source=None, incident_id="%(incident_id)s", payload="%(payload)s"
)
_ESCALATED = f"with timeline as ({_ESCALATED_ENTRY}) {_ESCALATED_EVENT}"


async def record_escalation(conn: AsyncConn, incident: dict[str, Any], v: dict[str, Any]) -> None:
    """The escalation on the timeline and as an `incident_escalated` event."""
    details = {
        "previous_level": v["previous_level"],
        "escalation_level": v["level"],
        "round": v["round"],
        "manual": v["manual"],
        "targets": v["targets"],
        "on_behalf_of": v.get("on_behalf_of"),
    }
    await conn.execute(
        _ESCALATED,
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
                    "on_behalf_of": v.get("on_behalf_of"),
                    "targets": v["targets"],
                }
            ),
        },
    )


_STOPPED = entry_of_parameters("escalation_stopped", details=None)
_FALLBACK = entry_of_parameters("paging_fallback", details=None)


async def stop_note(conn: AsyncConn, incident_id: str, reason: str) -> None:
    await conn.execute(_STOPPED, {"incident_id": incident_id, "actor": "system", "note": reason})


async def fallback_note(conn: AsyncConn, incident_id: str, reason: str, actor: str) -> None:
    await conn.execute(_FALLBACK, {"incident_id": incident_id, "actor": actor, "note": reason})


async def first_page_failed(conn: AsyncConn, incident_id: str) -> str | None:
    row = await fetch_one(
        conn,
        "select first_page_failed from incident_escalations where incident_id = %s",
        (incident_id,),
    )
    return None if row is None else row["first_page_failed"]


async def mark_first_page_failed(conn: AsyncConn, incident_id: str) -> str:
    """Record that the first page reached nobody; the reason (the failures, named)."""
    row = await fetch_one(
        conn,
        """update incident_escalations e set first_page_failed = left(
               'nobody was paged: ' || coalesce((
                   select string_agg(distinct n.recipient || ': ' || n.last_error, '; ')
                   from escalation_notifications n
                   where n.incident_id = e.incident_id and n.delivery_status = 'failed'),
               'no notification was sent'), 1000)
           where incident_id = %s returning first_page_failed""",
        (incident_id,),
    )
    return "nobody was paged" if row is None else str(row["first_page_failed"])
