"""Subscriber management (validated CRUD). Never commits."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound
from incident_service.relay import repository
from incident_service.relay.schemas import Subscriber, SubscriberWrite

ANONYMOUS = "anonymous"


def _values(data: SubscriberWrite) -> dict[str, Any]:
    return {
        "name": data.name,
        "kind": data.kind,
        "url": str(data.url) if data.url else None,
        "subject": data.subject,
        "secret": data.secret,
        "event_types": data.event_types,
        "active": data.active,
        "start": data.start,
        "actor": data.actor or ANONYMOUS,
    }


async def create(conn: AsyncConn, data: SubscriberWrite) -> Subscriber:
    row = await repository.insert(conn, _values(data))
    if row is None:
        msg = f"a subscriber named {data.name!r} already exists"
        raise Conflict(msg)
    return Subscriber.from_row(row)


async def replace(conn: AsyncConn, sid: UUID, data: SubscriberWrite) -> Subscriber:
    other = await repository.named(conn, data.name)
    if other is not None and other["id"] != sid:
        msg = f"a subscriber named {data.name!r} already exists"
        raise Conflict(msg)
    row = await repository.update(conn, sid, _values(data))
    if row is None:
        raise _missing(sid)
    return Subscriber.from_row(row)


def _missing(sid: UUID) -> NotFound:
    msg = f"subscriber {sid} not found"
    return NotFound(msg)


async def get(conn: AsyncConn, sid: UUID) -> Subscriber:
    row = await repository.get(conn, sid)
    if row is None:
        raise _missing(sid)
    return Subscriber.from_row(row)


async def list_all(conn: AsyncConn) -> list[Subscriber]:
    return [Subscriber.from_row(r) for r in await repository.list_all(conn)]


async def delete(conn: AsyncConn, sid: UUID) -> None:
    if not await repository.delete(conn, sid):
        raise _missing(sid)
