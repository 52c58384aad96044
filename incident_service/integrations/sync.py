"""One outbound sync attempt: make sure the incident's remote record exists, mirror our
status to it, add the change's note. Plain async functions over a pool; the DBOS
workflow (`workflows.py`) calls them as steps and owns retries and backoff.

Safe to repeat: the remote record is found by our incident_id before anything is
created, and the link is committed the moment a record is made. Attempts for one
(incident, integration) are serialised by a PostgreSQL advisory lock, so two workers can
never both decide to create.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from incident_service.db import AsyncConn
from incident_service.incidents import repository as incidents
from incident_service.integrations import follow_ups, repository
from incident_service.integrations.base import (
    Connector,
    IncidentFacts,
    RemoteRecord,
    VendorError,
    ensure,
)
from incident_service.integrations.jira import JiraConnector
from incident_service.integrations.pagerduty import PagerDutyConnector, advance_to
from incident_service.integrations.servicenow import ServiceNowConnector
from incident_service.integrations.settings import IntegrationSettings
from incident_service.outbound import safe_url

log = logging.getLogger(__name__)

ACTOR = "integrations"
# Status changes made by these actors came from that vendor: mirroring them back would
# echo (see webhooks.py).
ECHO_ACTORS = {"pagerduty": "pagerduty:webhook"}


def build_connector(kind: str, settings: IntegrationSettings, config: dict[str, Any]) -> Connector:
    if kind == "pagerduty":
        return PagerDutyConnector(settings, config)
    if kind == "jira":
        return JiraConnector(settings, config)
    if kind == "servicenow":
        return ServiceNowConnector(settings, config)
    msg = f"{kind} is not an outbound integration"
    raise VendorError(msg, retryable=False)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """What the dispatcher asks of one integration for one event."""

    sync_id: str
    incident_id: str
    integration_id: str
    event_type: str
    actor: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    # Set for a follow-up's event: its export to Jira, or its issue moved (follow_ups.py).
    follow_up_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retryable: bool = False
    retry_after: float | None = None
    error: str | None = None
    skipped: bool = False


async def _facts(conn: AsyncConn, incident_id: str) -> IncidentFacts | None:
    row = await incidents.get_incident(conn, incident_id)
    if row is None:
        return None
    return IncidentFacts(
        incident_id=row["incident_id"],
        title=row["title"],
        description=row["description"],
        severity=row["severity"],
        status=row["status"],
        team=row["assigned_team"],
        services=list(row["affected_services"]),
    )


def note_text(request: SyncRequest) -> str | None:
    """The text a status change leaves on the remote record."""
    if request.event_type != "incident_status_changed":
        return None
    # The event's reference makes each note unique, so a retry can tell it already landed.
    ref = request.sync_id.removeprefix("sync-")[:8]
    text = f"incident-service [{ref}]: {request.from_status} -> {request.to_status}"
    text += f" by {request.actor}"
    return f"{text}: {request.note}" if request.note else text


async def attempt(
    pool: AsyncConnectionPool[AsyncConn], settings: IntegrationSettings, request: SyncRequest
) -> Outcome:
    """One try. Vendor failures come back as an Outcome (retryable or not), never raised."""
    integration_id = UUID(request.integration_id)
    async with pool.connection() as lock_conn:
        await lock_conn.set_autocommit(True)
        key = f"sync:{request.incident_id}:{request.integration_id}"
        await lock_conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        try:
            return await _attempt_locked(pool, settings, request, integration_id)
        finally:
            await lock_conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
            await lock_conn.set_autocommit(False)


async def _attempt_locked(
    pool: AsyncConnectionPool[AsyncConn],
    settings: IntegrationSettings,
    request: SyncRequest,
    integration_id: UUID,
) -> Outcome:
    if request.follow_up_id is not None:
        return await _export_follow_up(pool, settings, request, integration_id)
    async with pool.connection() as conn:
        integration = await repository.by_id(conn, integration_id)
        facts = await _facts(conn, request.incident_id)
        link = await repository.link(conn, request.incident_id, integration_id)
    if integration is None or facts is None or not integration["enabled"]:
        return Outcome(ok=True, skipped=True, error="integration or incident gone")
    system: str = integration["kind"]
    if request.actor is not None and request.actor == ECHO_ACTORS.get(system):
        return Outcome(ok=True, skipped=True, error=f"the change came from {system}")
    try:
        connector = await asyncio.to_thread(
            build_connector, system, settings, integration["config"]
        )
        if link is None:
            record, created = await asyncio.to_thread(ensure, connector, facts)
            await _save_link(pool, request, integration_id, system, record, created)
        else:
            record = RemoteRecord(
                link["remote_id"], link["remote_key"], link["remote_url"], link["remote_status"]
            )
        if system == "pagerduty":
            # Written before the push: the webhook echoing it back must be recognised
            # even when it arrives before the push has returned.
            wanted = advance_to(record.status, facts.status)
            if wanted is not None:
                async with pool.connection() as conn:
                    await repository.set_remote_status(
                        conn, request.incident_id, integration_id, wanted
                    )
        moved = await asyncio.to_thread(connector.mirror_status, record, facts, request.note)
        if moved.status != record.status:
            async with pool.connection() as conn:
                await repository.set_remote_status(
                    conn, request.incident_id, integration_id, moved.status or ""
                )
        text = note_text(request)
        if text is not None and (system == "jira" or request.note):
            await asyncio.to_thread(connector.add_note, moved, text)
        async with pool.connection() as conn:
            await repository.set_remote_status(
                conn, request.incident_id, integration_id, moved.status or ""
            )
    except VendorError as exc:
        # The vendor's own words go to the worker's log only; the API shows the failure.
        log.warning("%s sync of %s: %s (%s)", system, request.incident_id, exc.message, exc.detail)
        return Outcome(
            ok=False, retryable=exc.retryable, retry_after=exc.retry_after, error=exc.message
        )
    return Outcome(ok=True)


async def _export_follow_up(
    pool: AsyncConnectionPool[AsyncConn],
    settings: IntegrationSettings,
    request: SyncRequest,
    integration_id: UUID,
) -> Outcome:
    assert request.follow_up_id is not None
    try:
        # Created: export (its issue made once); changed state: its issue follows.
        step = (
            follow_ups.export
            if request.event_type == "follow_up_created"
            else follow_ups.mirror_state
        )
        why = await step(pool, settings, UUID(request.follow_up_id), integration_id)
    except VendorError as exc:
        log.warning("jira export of %s: %s (%s)", request.follow_up_id, exc.message, exc.detail)
        return Outcome(
            ok=False, retryable=exc.retryable, retry_after=exc.retry_after, error=exc.message
        )
    return Outcome(ok=True, skipped=why is not None, error=why)


async def _save_link(
    pool: AsyncConnectionPool[AsyncConn],
    request: SyncRequest,
    integration_id: UUID,
    system: str,
    record: RemoteRecord,
    created: bool,
) -> None:
    async with pool.connection() as conn:
        await repository.upsert_link(
            conn,
            {
                "incident_id": request.incident_id,
                "integration_id": integration_id,
                "system": system,
                "remote_id": record.remote_id,
                "remote_key": record.remote_key,
                "remote_url": safe_url(record.url),
                "remote_status": record.status,
            },
        )
        verb = "created" if created else "found"
        await repository.add_timeline(
            conn,
            request.incident_id,
            "integration_linked",
            ACTOR,
            f"{system} record {record.remote_key or record.remote_id} {verb}",
            {"system": system, "remote_id": record.remote_id, "url": safe_url(record.url)},
        )


async def record_state(
    pool: AsyncConnectionPool[AsyncConn],
    request: SyncRequest,
    system: str,
    *,
    status: str,
    attempts: int,
    error: str | None = None,
    retry_in_s: float | None = None,
) -> None:
    """Make the sync's state visible (`GET /api/v1/integrations/syncs`); a failure also
    goes on the incident's timeline, with the vendor's message."""
    next_at = datetime.now(UTC) + timedelta(seconds=retry_in_s) if retry_in_s is not None else None
    async with pool.connection() as conn:
        await repository.record_sync(
            conn,
            {
                "sync_id": request.sync_id,
                "incident_id": request.incident_id,
                "integration_id": UUID(request.integration_id),
                "system": system,
                "action": request.event_type.removeprefix("incident_"),
                "status": status,
                "attempts": attempts,
                "last_error": error,
                "next_attempt_at": next_at,
            },
        )
        if status == "failed":
            await repository.add_timeline(
                conn,
                request.incident_id,
                "integration_failed",
                ACTOR,
                f"{system} sync failed after {attempts} attempt(s): {error}",
                {"system": system, "sync_id": request.sync_id, "attempts": attempts},
            )
