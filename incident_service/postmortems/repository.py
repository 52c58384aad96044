"""SQL for post-mortems: the incident's record as the document is built from it, and the
stored documents. Tables other issues add (alerts, integration links) are read only when
they exist, so a post-mortem never fails for want of them."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn


async def table_exists(conn: AsyncConn, name: str) -> bool:
    cur = await conn.execute("select to_regclass(%s) is not null as present", (name,))
    row = await cur.fetchone()
    return bool(row and row["present"])


async def get_incident(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    cur = await conn.execute("select * from incidents where incident_id = %s", (incident_id,))
    return await cur.fetchone()


async def timeline(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select id, kind, actor, from_status, to_status, note, details, occurred_at"
        " from incident_timeline where incident_id = %s order by occurred_at, id",
        (incident_id,),
    )
    return await cur.fetchall()


async def first_alert_at(conn: AsyncConn, incident_id: str) -> dict[str, Any]:
    if not await table_exists(conn, "alerts"):
        return {"first_at": None, "alerts": 0}
    cur = await conn.execute(
        "select min(received_at) as first_at, count(*) as alerts from alerts"
        " where incident_id = %s",
        (incident_id,),
    )
    row = await cur.fetchone()
    return row or {"first_at": None, "alerts": 0}


async def automated_responses(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from automated_responses where incident_id = %s order by executed_at nulls last,"
        " response_id",
        (incident_id,),
    )
    return await cur.fetchall()


async def integration_links(conn: AsyncConn, incident_id: str) -> list[dict[str, Any]]:
    if not await table_exists(conn, "integration_links"):
        return []
    cur = await conn.execute(
        "select system, remote_id, remote_key, remote_url, remote_status, last_synced_at"
        " from integration_links where incident_id = %s order by id",
        (incident_id,),
    )
    return await cur.fetchall()


async def prediction_at_open(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    """The served model's first prediction for the incident (made when it opened)."""
    cur = await conn.execute(
        "select model_name, model_version, severity_probabilities, suggested_severity,"
        " ttr_p10_hours, ttr_p50_hours, ttr_p90_hours from incident_predictions"
        " where incident_id = %s and trigger = 'created' order by id limit 1",
        (incident_id,),
    )
    return await cur.fetchone()


async def get_stored(conn: AsyncConn, incident_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select incident_id, resolved_at, document, markdown, generated_by, generated_at"
        " from postmortems where incident_id = %s",
        (incident_id,),
    )
    return await cur.fetchone()


async def store(
    conn: AsyncConn,
    incident_id: str,
    resolved_at: Any,
    document: dict[str, Any],
    markdown: str,
    generated_by: str,
) -> None:
    await conn.execute(
        "insert into postmortems (incident_id, resolved_at, document, markdown, generated_by)"
        " values (%s, %s, %s, %s, %s)"
        " on conflict (incident_id) do update set resolved_at = excluded.resolved_at,"
        " document = excluded.document, markdown = excluded.markdown,"
        " generated_by = excluded.generated_by, generated_at = now()",
        (incident_id, resolved_at, Jsonb(document), markdown, generated_by),
    )


async def resolved_without_postmortem(
    conn: AsyncConn, after: Any, limit: int = 100
) -> list[dict[str, Any]]:
    """Resolved incidents whose post-mortem is missing or describes an older resolution."""
    cur = await conn.execute(
        "select i.incident_id, i.resolved_at from incidents i"
        " left join postmortems p using (incident_id)"
        " where i.resolved_at is not null and i.resolved_at > %s"
        " and (p.incident_id is null or p.resolved_at is distinct from i.resolved_at)"
        " order by i.resolved_at, i.incident_id limit %s",
        (after, limit),
    )
    return await cur.fetchall()
