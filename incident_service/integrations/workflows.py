"""The outbound sync as DBOS workflows on the worker's resources, and the dispatcher that
turns incident events into them.

- The dispatcher reads the outbox in feed order from its own position (one row in
  `integration_cursors`, locked `skip locked` so several workers never both dispatch), and
  for each incident event starts one workflow per matching outbound integration, with
  workflow id `sync-<event_id>-<integration_id>`: starting it again after a crash is a
  no-op in DBOS, and the position only advances in the transaction that started them.
- The workflow tries the sync; a retryable failure (429, 5xx, timeout) waits a DBOS
  durable sleep (the vendor's `Retry-After` when it sent one, else 1, 2, 4 ... seconds up
  to the cap) and tries again; anything else stops with the vendor's message on the
  incident's timeline. A vendor outage delays a sync; it never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from dbos import DBOS, DBOSConfiguredInstance, SetWorkflowID

from incident_service.durable import INSTANCE, QUEUE, Resources
from incident_service.events import repository as outbox
from incident_service.integrations import follow_ups, repository, sync
from incident_service.integrations.settings import IntegrationSettings

log = logging.getLogger(__name__)

CONSUMER = "outbound-sync"
BATCH = 200
_EVENTS = ("incident_created", "incident_status_changed", "follow_up_created", "follow_up_updated")
_FOLLOW_UP_EVENTS = ("follow_up_created", "follow_up_updated")


_CLOSED = ("done", "wont_do")


def _mirrored(event: dict[str, Any]) -> bool:
    """Whether the event is one a tracker follows. Of a follow-up's changes, only a close
    (to done or won't do) or a reopen (out of them), and not a close that came from Jira
    itself (an echo): starting or stopping work leaves the issue to its assignee (a close
    in Jira meanwhile is the poll's to bring back)."""
    if event["event_type"] != "follow_up_updated":
        return True
    payload = event["payload"]
    closes = payload.get("to_state") in _CLOSED
    reopens = payload.get("from_state") in _CLOSED and payload.get("to_state") is not None
    return (closes or reopens) and payload.get("actor") != follow_ups.ACTOR


def backoff(settings: IntegrationSettings, attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, settings.sync_backoff_max_s)
    return min(settings.sync_backoff_base_s * 2.0 ** (attempt - 1), settings.sync_backoff_max_s)


def _requests(
    event: dict[str, Any], integrations: list[dict[str, Any]]
) -> list[tuple[sync.SyncRequest, str]]:
    payload = event["payload"]
    out = []
    for integration in integrations:
        # An integration receives incidents from its creation on, not the backlog.
        if event["created_at"] < integration["created_at"]:
            continue
        out.append(
            (
                sync.SyncRequest(
                    sync_id=f"sync-{event['event_id']}-{integration['id']}",
                    incident_id=event["incident_id"],
                    integration_id=str(integration["id"]),
                    event_type=event["event_type"],
                    actor=payload.get("actor"),
                    from_status=payload.get("previous_status", payload.get("from_state")),
                    to_status=payload.get("status", payload.get("to_state")),
                    note=payload.get("note"),
                    follow_up_id=payload.get("follow_up_id"),
                ),
                str(integration["kind"]),
            )
        )
    return out


@DBOS.dbos_class("integrations")
class IntegrationSync(DBOSConfiguredInstance):
    """The sync workflow, its steps and the dispatcher, on the worker's resources."""

    def __init__(self, resources: Resources) -> None:
        self.pool = resources.pool
        self.settings: IntegrationSettings = resources.settings.integrations
        super().__init__(INSTANCE)

    @DBOS.step(name="integrations.attempt")
    async def attempt_step(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            outcome = await sync.attempt(self.pool, self.settings, sync.SyncRequest(**request))
        except Exception as exc:  # our side failed (pool, database): try again later
            log.warning("sync %s: %s", request["sync_id"], type(exc).__name__, exc_info=True)
            return {
                "ok": False,
                "retryable": True,
                "retry_after": None,
                "error": type(exc).__name__,
            }
        return {
            "ok": outcome.ok,
            "retryable": outcome.retryable,
            "retry_after": outcome.retry_after,
            "error": outcome.error,
            "skipped": outcome.skipped,
        }

    @DBOS.step(name="integrations.record")
    async def record_step(
        self,
        request: dict[str, Any],
        system: str,
        status: str,
        attempts: int,
        error: str | None,
        retry_in_s: float | None,
    ) -> None:
        await sync.record_state(
            self.pool,
            sync.SyncRequest(**request),
            system,
            status=status,
            attempts=attempts,
            error=error,
            retry_in_s=retry_in_s,
        )

    @DBOS.workflow(name="integrations.sync")
    async def sync_workflow(self, request: dict[str, Any], system: str) -> str:
        settings = self.settings
        attempt = 0
        while True:
            attempt += 1
            result = await self.attempt_step(request)
            if result["ok"]:
                status = "skipped" if result.get("skipped") else "succeeded"
                await self.record_step(request, system, status, attempt, result.get("error"), None)
                return status
            if not result["retryable"] or attempt >= settings.sync_max_attempts:
                await self.record_step(request, system, "failed", attempt, result["error"], None)
                return "failed"
            delay = backoff(settings, attempt, result["retry_after"])
            await self.record_step(request, system, "retrying", attempt, result["error"], delay)
            await DBOS.sleep_async(delay)

    async def start(self, request: sync.SyncRequest, system: str) -> None:
        with SetWorkflowID(request.sync_id):
            await DBOS.enqueue_workflow_async(QUEUE, self.sync_workflow, request.as_dict(), system)

    async def dispatch_once(self) -> int:
        """Start the workflows for one batch of events; the number of events read."""
        async with self.pool.connection() as conn:
            position = await repository.lock_cursor(conn, CONSUMER)
            if position is None:
                return 0
            # The one reader of the outbox's order, shared with the event feed.
            events = await outbox.page(conn, after=position, limit=BATCH, incident_id=None)
            for event in events:
                if (
                    event["event_type"] not in _EVENTS
                    or event["incident_id"] is None
                    or not _mirrored(event)
                ):
                    continue
                payload = event["payload"]
                matching = await repository.outbound_for(
                    conn, payload.get("assigned_team", ""), payload.get("severity", "")
                )
                if event["event_type"] in _FOLLOW_UP_EVENTS:
                    matching = [i for i in matching if follow_ups.exports_follow_ups(i)]
                for request, system in _requests(event, matching):
                    await sync.record_state(
                        self.pool, request, system, status="pending", attempts=0
                    )
                    await self.start(request, system)
            if events:
                await repository.set_cursor(conn, CONSUMER, (events[-1]["txid"], events[-1]["id"]))
            return len(events)

    async def poll_follow_ups(self, stop: asyncio.Event) -> None:
        """Look at exported follow-ups' Jira issues (follow_ups.py), apart from the
        dispatcher so that a slow Jira never holds the outbound syncs back."""
        interval = min(self.settings.jira_follow_up_poll_s, 10.0)
        while not stop.is_set():
            try:
                await follow_ups.poll(self.pool, self.settings)
            except Exception:  # the next round tries again; this loop must not die
                log.warning("follow-up poll failed; retrying", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch every `sync_poll_interval_s`, and again at once after a full batch (a
        poll: unlike the relay, it does not LISTEN to the outbox)."""
        interval = self.settings.sync_poll_interval_s
        poller = asyncio.create_task(self.poll_follow_ups(stop))
        try:
            await self._dispatch_until(stop, interval)
        finally:
            await poller

    async def _dispatch_until(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                while await self.dispatch_once() >= BATCH:
                    pass
            except (psycopg.OperationalError, OSError):
                log.warning("outbound sync: database unavailable; retrying", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
