"""The event relay: delivers the outbox to each subscriber, in feed order, at least once.

- Webhooks: a POST of the event JSON, `Idempotency-Key` = `event_id`, signed with the
  subscriber's secret (`X-Incident-Signature`, as in `outbound_http.py`). The URL was
  set by an API user, so the outbound address policy is applied again at each connection
  (`incident_service.outbound`); a refusal is a failed delivery like any other.
  `last_error` names the failure ("HTTP 503", "timeout", "connection refused", "refused by
  outbound address policy"), never the receiver's answer: it is readable through the API.
- A team's subscriber is sent that team's events only (filtered in the outbox query).
- NATS JetStream: published to `<subject>.<event_type>` with `Nats-Msg-Id` = `event_id`,
  so JetStream drops a republish inside its duplicate window. The stream is created
  (`INCIDENT_EVENTS_<subject>`, subjects `<subject>.>`) when none captures the subject.

A subscriber's position advances only past events it accepted. A failure stops that
subscriber (later events wait, keeping order) and it is retried after 1, 2, 4 ... 300 s.
Each round locks the subscriber row (`skip locked`), so several workers never deliver to
one subscriber at once. Woken by NOTIFY on the outbox, with a polling fallback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from incident_service.db import LISTEN_SETTLE_S, fetch_one, listen_loop
from incident_service.durable import Resources
from incident_service.events.schemas import Event
from incident_service.executor import ActionFailed
from incident_service.http import HttpRefused, HttpTimeout, HttpUnreachable
from incident_service.outbound import REFUSED
from incident_service.outbound_http import sign
from incident_service.relay import repository

log = logging.getLogger(__name__)

BATCH = 200
MAX_BACKOFF_S = 300.0
# A team subscriber's position skips ahead past other teams' events only when it is this
# many transactions behind: each skip is a write (a transaction itself), so skipping on
# every round would keep an idle subscriber writing once a round for ever.
SKIP_AHEAD_TXIDS = 1000


class Nats:
    """One lazily opened NATS connection for the relay; streams ensured once per subject."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._nc: Any = None
        self._js: Any = None
        self._streams: set[str] = set()

    async def publish(self, subject: str, event_type: str, event_id: str, body: bytes) -> None:
        import nats
        from nats.js.errors import NotFoundError

        if self._nc is None or self._nc.is_closed:
            self._nc = await nats.connect(self.url, connect_timeout=2, max_reconnect_attempts=2)
            self._js = self._nc.jetstream()
        if subject not in self._streams:
            try:
                await self._js.find_stream_name_by_subject(f"{subject}.{event_type}")
            except NotFoundError:
                name = "INCIDENT_EVENTS_" + subject.replace(".", "_").replace("-", "_").upper()
                await self._js.add_stream(name=name, subjects=[f"{subject}.>"])
            self._streams.add(subject)
        await self._js.publish(
            f"{subject}.{event_type}", body, timeout=5, headers={"Nats-Msg-Id": event_id}
        )

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()


async def _send(rt: Resources, nats_client: Nats, sub: dict[str, Any], row: dict[str, Any]) -> None:
    event = Event.from_row(row)
    body = msgspec.json.encode(event)
    if sub["kind"] == "webhook":
        await _post(rt, sub, event.event_id, body)
        return
    try:
        await nats_client.publish(sub["subject"], row["event_type"], event.event_id, body)
    except Exception as exc:  # nats-py raises many unrelated types; all mean "not accepted"
        msg = f"NATS publish failed: {type(exc).__name__}: {str(exc)[:200]}"
        raise ActionFailed(msg, retryable=True) from exc


async def _post(rt: Resources, sub: dict[str, Any], event_id: str, body: bytes) -> None:
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": event_id,
        **sign(sub["secret"], body),
    }
    try:
        response = await rt.http.post(
            sub["url"], body, headers, rt.settings.action_http_timeout_s, user_url=True
        )
    except HttpRefused as exc:
        # The reason (which address) is for the operator's log, not for API readers.
        log.warning("relay to %s: %s", sub["name"], exc)
        raise ActionFailed(REFUSED, retryable=True) from exc
    except HttpTimeout as exc:
        raise ActionFailed("timeout", retryable=True) from exc
    except HttpUnreachable as exc:
        raise ActionFailed(str(exc), retryable=True) from exc
    if not response.is_success:
        msg = f"HTTP {response.status}"
        raise ActionFailed(msg, retryable=True)


async def deliver_one(rt: Resources, nats_client: Nats, sid: Any) -> int:
    """One round for one subscriber; the number of events delivered.

    The subscriber is held with a session advisory lock, not a row lock: a row lock would
    give this connection a transaction id for as long as deliveries take, and an open
    transaction id holds back `pg_snapshot_xmin`, which would stall the whole event feed
    behind one slow webhook. Each statement here commits at once instead.
    """
    async with rt.pool.connection() as conn:
        got = await fetch_one(
            conn, "select pg_try_advisory_lock(%s, hashtext(%s::text)) as got", (_LOCK_SPACE, sid)
        )
        await conn.commit()
        if not got or not got["got"]:
            return 0  # another worker is delivering to this subscriber
        try:
            return await _deliver_locked(rt, nats_client, conn, sid)
        finally:
            await conn.rollback()
            await conn.execute(
                "select pg_advisory_unlock(%s, hashtext(%s::text))", (_LOCK_SPACE, sid)
            )
            await conn.commit()


_LOCK_SPACE = 0x5E1A7


async def _deliver_locked(rt: Resources, nats_client: Nats, conn: Any, sid: Any) -> int:
    sub = await repository.get(conn, sid)
    if sub is None or not sub["active"]:
        await conn.commit()
        return 0
    horizon = await repository.horizon(conn)
    rows = await repository.pending_events(conn, sub, BATCH)
    await conn.commit()
    wanted = set(sub["event_types"])
    position = (sub["position_txid"], sub["position_id"])
    delivered = 0
    for row in rows:
        if not wanted or row["event_type"] in wanted:
            try:
                await _send(rt, nats_client, sub, row)
            except ActionFailed as exc:
                # Failures in a row: an event delivered in this round ends the run, so a
                # receiver refusing each event once backs off 1 s each time, not 1, 2, 4...
                in_a_row = 0 if delivered else sub["failures"]
                backoff = min(2.0**in_a_row, MAX_BACKOFF_S)
                log.warning("relay to %s failed (retry in %.0fs): %s", sub["name"], backoff, exc)
                await repository.advance(
                    conn, sid, position, delivered, error=str(exc), retry_in_s=backoff
                )
                await conn.commit()
                return delivered
            delivered += 1
        position = (row["txid"], row["id"])
    if len(rows) < BATCH and int(horizon) - int(position[0]) > SKIP_AHEAD_TXIDS:
        # A short page held every event for this subscriber (its team) written by a
        # transaction older than the horizon, which was taken before the page was read:
        # the position may move there, past other teams' events, rather than re-reading
        # them on every round until the team has an event of its own.
        position = (horizon, 0)
    if rows or sub["failures"] or position != (sub["position_txid"], sub["position_id"]):
        await repository.advance(conn, sid, position, delivered, error=None, retry_in_s=None)
        await conn.commit()
    return delivered


async def deliver_all(rt: Resources, nats_client: Nats) -> int:
    async with rt.pool.connection() as conn:
        due = await repository.due(conn)
    results = await asyncio.gather(*(deliver_one(rt, nats_client, sid) for sid in due))
    return sum(results)


async def run(rt: Resources, url: str, stop: asyncio.Event) -> None:
    nats_client = Nats(rt.settings.nats_url)

    async def each_round() -> bool:
        return await deliver_all(rt, nats_client) >= BATCH

    try:
        await listen_loop(
            url,
            "outbox",
            poll_s=rt.settings.worker_poll_s,
            stop=stop,
            each_round=each_round,
            settle_s=LISTEN_SETTLE_S,
            name="relay",
        )
    finally:
        await nats_client.close()
