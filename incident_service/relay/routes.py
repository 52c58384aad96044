"""`/api/v1/subscribers`: who the event relay delivers the outbox to."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from incident_service.db import AsyncConn
from incident_service.relay import service
from incident_service.relay.schemas import Subscriber, SubscriberWrite

Conn = NamedDependency[AsyncConn]
Id = Annotated[UUID, PathParameter()]


class SubscriberController(Controller):
    path = "/api/v1/subscribers"
    tags = ["events"]
    opt = {"write_scope": "config:write"}

    @post("/", summary="Add a webhook or NATS JetStream subscriber to the event feed")
    async def create(self, conn: Conn, data: JSONBody[SubscriberWrite]) -> Subscriber:
        return await service.create(conn, data)

    @get("/", summary="List subscribers with their delivery progress")
    async def list_all(self, conn: Conn) -> list[Subscriber]:
        return await service.list_all(conn)

    @get("/{subscriber_id:uuid}", summary="One subscriber")
    async def get_one(self, conn: Conn, subscriber_id: Id) -> Subscriber:
        return await service.get(conn, subscriber_id)

    @put(
        "/{subscriber_id:uuid}",
        summary="Replace a subscriber (its position is kept; a missing secret keeps the old one)",
    )
    async def replace(
        self,
        conn: Conn,
        subscriber_id: Id,
        data: JSONBody[SubscriberWrite],
    ) -> Subscriber:
        return await service.replace(conn, subscriber_id, data)

    @delete("/{subscriber_id:uuid}", summary="Remove a subscriber")
    async def remove(self, conn: Conn, subscriber_id: Id) -> None:
        await service.delete(conn, subscriber_id)
