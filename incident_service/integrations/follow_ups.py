"""Follow-ups in the team's Jira: exported once, and closed here when their issue is done.

- Export: a `follow_up_created` event reaches the outbound dispatcher like an incident's
  events; for each enabled `jira` integration of the incident's team whose config says
  `export_follow_ups: true`, a sync workflow (`workflows.py`, the same retries) makes the
  issue. Safe to repeat: the issue is looked up by the follow-up's label before a create,
  and the follow-up records its issue (`external_*`) once, with a `follow_up_exported`
  timeline entry and event.
- Back: Jira sends nothing we can rely on without a webhook registration, so the worker
  looks at every exported follow-up still to do, each at most every
  `INTEGRATIONS_JIRA_FOLLOW_UP_POLL_S`; an issue that reached a done status closes its
  follow-up (state done, actor `jira:sync`), on the incident's timeline.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from incident_service.db import AsyncConn
from incident_service.followups import repository as follow_ups
from incident_service.followups import service as follow_up_rules
from incident_service.integrations import repository
from incident_service.integrations.base import VendorError
from incident_service.integrations.jira import FollowUpFacts, JiraConnector
from incident_service.integrations.settings import IntegrationSettings
from incident_service.outbound import safe_url

log = logging.getLogger(__name__)

ACTOR = "jira:sync"
EXPORTER = "integrations"
POLL_BATCH = 50


def exports_follow_ups(integration: dict[str, Any]) -> bool:
    return integration["kind"] == "jira" and integration["config"].get("export_follow_ups") is True


async def export(
    pool: AsyncConnectionPool[AsyncConn],
    settings: IntegrationSettings,
    follow_up_id: UUID,
    integration_id: UUID,
) -> str | None:
    """Make the follow-up's issue unless it has one; why nothing was done, else None.
    Vendor failures are raised (VendorError), for the workflow's retries."""
    async with pool.connection() as conn:
        integration = await repository.by_id(conn, integration_id)
        row = await follow_ups.for_export(conn, follow_up_id)
    if integration is None or not integration["enabled"] or not exports_follow_ups(integration):
        return "the integration is gone, disabled or does not export follow-ups"
    if row is None:
        return "the follow-up is gone"
    if row["external_id"] is not None:
        return "exported already"
    facts = FollowUpFacts(
        follow_up_id=str(row["id"]),
        incident_id=row["incident_id"],
        title=row["title"],
        priority=row["priority"],
        due_date=row["due_date"] or (row["due_at"].date() if row["due_at"] else None),
    )
    connector = JiraConnector(settings, integration["config"])
    record, created = await asyncio.to_thread(connector.ensure_follow_up, facts)
    async with pool.connection() as conn:
        await follow_ups.record_export(
            conn,
            {
                "id": row["id"],
                "incident_id": row["incident_id"],
                "integration_id": integration_id,
                "remote_id": record.remote_id,
                "remote_key": record.remote_key,
                "remote_url": safe_url(record.url),
                "remote_status": (record.status or "")[:60],
                "actor": EXPORTER,
                "note": f"jira issue {record.remote_key} {'created' if created else 'found'}",
            },
        )
    return None


async def poll(pool: AsyncConnectionPool[AsyncConn], settings: IntegrationSettings) -> int:
    """Look at the issues of exported follow-ups due a look; the number closed."""
    async with pool.connection() as conn:
        claimed = await follow_ups.claim_exported(conn, settings.jira_follow_up_poll_s, POLL_BATCH)
    closed = 0
    connectors: dict[UUID, JiraConnector | None] = {}
    for row in claimed:
        integration_id = row["external_integration_id"]
        if integration_id not in connectors:
            async with pool.connection() as conn:
                integration = await repository.by_id(conn, integration_id)
            usable = integration is not None and exports_follow_ups(integration)
            connectors[integration_id] = (
                JiraConnector(settings, integration["config"])
                if usable and integration is not None
                else None
            )
        connector = connectors[integration_id]
        if connector is None:
            continue
        try:
            record, done = await asyncio.to_thread(connector.follow_up_status, row["external_id"])
        except VendorError as exc:
            # The next look retries; the vendor's words go to the log only.
            log.warning("jira follow-up %s: %s (%s)", row["id"], exc.message, exc.detail)
            continue
        status = (record.status or "")[:60]
        async with pool.connection() as conn:
            if done:
                note = f"jira issue {row['external_key']} is {status}"
                if await follow_up_rules.close_from_tracker(
                    conn, row["id"], actor=ACTOR, remote_status=status, note=note
                ):
                    closed += 1
            elif status != row["external_status"]:
                await follow_ups.set_external_status(conn, row["id"], status)
    return closed
