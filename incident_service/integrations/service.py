"""Integration rules: creating integrations and their keys, finding them, their links."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import NotFound
from incident_service.integrations import repository
from incident_service.integrations.schemas import (
    INBOUND,
    Integration,
    IntegrationCreate,
    IntegrationKind,
    IntegrationLink,
    SyncState,
)

# Inbound paths by kind (events-v2 is PagerDuty's own path, so PagerDuty senders need
# only their base URL changed).
INBOUND_PATHS = {
    IntegrationKind.EVENTS_V2: "/v2/enqueue",
    IntegrationKind.ALERTMANAGER: "/api/v1/integrations/alertmanager/{key}",
    IntegrationKind.GRAFANA: "/api/v1/integrations/grafana/{key}",
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_integration(
    conn: AsyncConn, request: IntegrationCreate, *, actor: str
) -> Integration:
    """Store the integration; an inbound one gets a new 32-character key, returned once."""
    key = secrets.token_hex(16) if request.kind in INBOUND else None
    row = await repository.insert_integration(
        conn,
        {
            "kind": request.kind.value,
            "name": request.name or f"{request.team} {request.kind.value}",
            "team": request.team,
            "severities": [s.value for s in request.severities],
            "config": request.config,
            "key_sha256": hash_key(key) if key else None,
            "key_prefix": key[:6] if key else None,
            "created_by": actor,
        },
    )
    integration = Integration.from_row(row)
    if key is not None:
        integration.integration_key = key
        integration.url = INBOUND_PATHS[request.kind].format(key=key)
    return integration


async def by_key(
    conn: AsyncConn,
    key: str,
    kinds: frozenset[IntegrationKind],
    *,
    lock_dedup_key: str | None = None,
) -> dict[str, Any]:
    """The enabled inbound integration with this key and one of `kinds`, else NotFound.

    With `lock_dedup_key`, the alert lock of that key is taken too (one round trip less
    per alert); pass `locked=True` to `alerts.service.ingest` then.
    """
    row = await repository.by_key(conn, hash_key(key), lock_dedup_key)
    if row is None or IntegrationKind(row["kind"]) not in kinds:
        msg = "no integration of this kind has that key"
        raise NotFound(msg)
    return row


async def list_integrations(conn: AsyncConn, team: str | None) -> list[Integration]:
    return [Integration.from_row(r) for r in await repository.list_integrations(conn, team)]


async def get_integration(conn: AsyncConn, integration_id: UUID) -> Integration:
    row = await repository.by_id(conn, integration_id)
    if row is None:
        msg = f"integration {integration_id} not found"
        raise NotFound(msg)
    return Integration.from_row(row)


async def links_for(conn: AsyncConn, incident_id: str) -> list[IntegrationLink]:
    return [
        IntegrationLink(
            system=r["system"],
            integration_id=str(r["integration_id"]),
            remote_id=r["remote_id"],
            remote_key=r["remote_key"],
            remote_url=r["remote_url"],
            remote_status=r["remote_status"],
            last_synced_at=r["last_synced_at"],
        )
        for r in await repository.links_for(conn, incident_id)
    ]


async def syncs(
    conn: AsyncConn, *, incident_id: str | None, status: str | None, limit: int
) -> list[SyncState]:
    return [SyncState(**r) for r in await repository.syncs(conn, incident_id, status, limit)]
