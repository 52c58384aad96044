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
  follow-up (state done, actor `jira:sync`), on the incident's timeline. Only a move into
  done closes: an issue that stayed done while its follow-up was reopened here (its
  workflow has no way back) does not close the follow-up again.
- Mirror: a follow-up closed here (done or won't do) or reopened here, by anyone but
  `jira:sync`, is a `follow_up_updated` event the dispatcher turns into a sync of the same
  kind: its issue is moved to match the follow-up's state as it is when the sync runs (so
  an export and a close racing each other end the same way in either order). The move,
  or the workflow's refusal, is on the incident's timeline.
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
from incident_service.followups.lifecycle import ACTIVE, FollowUpState
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
    # Closed before its issue existed: the issue follows at once.
    return await mirror_state(pool, settings, follow_up_id, integration_id)


def _wants_done(state: str) -> bool:
    return FollowUpState(state) not in ACTIVE


async def mirror_state(
    pool: AsyncConnectionPool[AsyncConn],
    settings: IntegrationSettings,
    follow_up_id: UUID,
    integration_id: UUID,
) -> str | None:
    """Move the follow-up's issue to match its state now (done for done and won't do, not
    done otherwise); why nothing was done, else None. Vendor failures are raised."""
    async with pool.connection() as conn:
        integration = await repository.by_id(conn, integration_id)
        row = await follow_ups.for_export(conn, follow_up_id)
    if integration is None or not integration["enabled"] or not exports_follow_ups(integration):
        return "the integration is gone, disabled or does not export follow-ups"
    if row is None or row["external_id"] is None:
        return "not exported (yet): the export moves the issue when it makes it"
    if row["external_integration_id"] != integration_id:
        return "exported through another integration"
    done = _wants_done(row["state"])
    connector = JiraConnector(settings, integration["config"])
    record, moved = await asyncio.to_thread(connector.move_follow_up, row["external_id"], done=done)
    status = (record.status or "")[:60]
    key = row["external_key"]
    async with pool.connection() as conn:
        changed = status != row["external_status"]
        if changed:
            await follow_ups.set_external_status(conn, row["id"], status)
        details = {"follow_up_id": str(row["id"]), "key": key, "status": status}
        if not moved:
            note = (
                f"jira issue {key} stays {status}: its workflow offers no transition"
                f" {'into' if done else 'out of'} done from there"
            )
            await repository.add_timeline(
                conn, row["incident_id"], "follow_up_issue_stuck", EXPORTER, note, details
            )
            return note
        if changed:
            note = f"jira issue {key} moved to {status} (follow-up {row['state']})"
            await repository.add_timeline(
                conn, row["incident_id"], "follow_up_issue_moved", EXPORTER, note, details
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
            # Only a move into done closes (see the module's docstring).
            if done and status != row["external_status"]:
                note = f"jira issue {row['external_key']} is {status}"
                if await follow_up_rules.close_from_tracker(
                    conn, row["id"], actor=ACTOR, remote_status=status, note=note
                ):
                    closed += 1
            elif status != row["external_status"]:
                await follow_ups.set_external_status(conn, row["id"], status)
    return closed
