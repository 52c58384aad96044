"""Rows written straight into the service's tables, for pipeline and report tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb


def insert_incident(
    pg: psycopg.Connection[tuple[object, ...]],
    team: str,
    *,
    created_at: datetime | None = None,
    severity: str = "SEV2_HIGH",
    service: str = "checkout_service",
    acknowledged_after: timedelta | None = timedelta(minutes=3),
    resolved_after: timedelta | None = timedelta(hours=1),
    assignee: str | None = "alice",
    title: str = "Checkout Service High Latency",
) -> str:
    """An incident with its timeline (created, acknowledged, resolved) as the service writes it."""
    created = created_at or datetime.now(UTC) - timedelta(days=2)
    incident_id = f"TST-{secrets.token_hex(5)}"
    ack = created + acknowledged_after if acknowledged_after is not None else None
    res = created + resolved_after if resolved_after is not None else None
    status = "RESOLVED" if res else ("ACKNOWLEDGED" if ack else "OPEN")
    # The service stamps updated_at with the time of writing, whatever the history says.
    updated = datetime.now(UTC)
    pg.execute(
        "insert into incidents (incident_id, title, description, severity, status,"
        " affected_services, assigned_team, assignee, created_by, created_at, updated_at,"
        " acknowledged_at, resolved_at)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            incident_id,
            title,
            "p99 above 2 s",
            severity,
            status,
            Jsonb([service]),
            team,
            assignee,
            "tester",
            created,
            updated,
            ack,
            res,
        ),
    )
    events: list[tuple[str, str | None, str, datetime]] = [("created", None, "OPEN", created)]
    if ack:
        events.append(("status_changed", "OPEN", "ACKNOWLEDGED", ack))
    if res:
        events.append(("status_changed", "ACKNOWLEDGED" if ack else "OPEN", "RESOLVED", res))
    for kind, from_s, to_s, at in events:
        pg.execute(
            "insert into incident_timeline (incident_id, kind, actor, from_status, to_status,"
            " note, occurred_at) values (%s, %s, %s, %s, %s, %s, %s)",
            (incident_id, kind, "tester", from_s, to_s, None, at),
        )
    return incident_id
