"""`/api/v1/subscribers`: who the event relay delivers the outbox to."""

from __future__ import annotations

from typing import Any

from litestar import post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from incident_service.outbound import OutboundPolicy
from incident_service.relay import service
from incident_service.relay.schemas import Subscriber, SubscriberWrite
from incident_service.routing import ConfigController, ConfigOps, Conn, Id, Me, Summaries

Policy = NamedDependency[OutboundPolicy]


def provide_outbound_policy(request: ASGIConnection[Any, Any, Any, Any]) -> OutboundPolicy:
    """The app's outbound address policy, built from its settings on first use."""
    state = request.app.state
    policy: OutboundPolicy | None = state.get("outbound_policy")
    if policy is None:
        policy = OutboundPolicy.from_networks(state.settings.outbound_allow_networks)
        state.outbound_policy = policy
    return policy


class SubscriberController(
    ConfigController,
    item="subscriber_id",
    write=SubscriberWrite,
    read=Subscriber,
    # Create and replace check the URL against the outbound policy: written out below.
    ops=ConfigOps(list_all=service.list_all, get_one=service.get, remove=service.delete),
    summaries=Summaries(
        list_all="List subscribers with their delivery progress",
        get_one="One subscriber",
        remove="Remove a subscriber",
    ),
):
    path = "/api/v1/subscribers"
    tags = ["events"]
    dependencies = {
        "outbound_policy": Provide(provide_outbound_policy, sync_to_thread=False),
    }

    @post("/", summary="Add a webhook or NATS JetStream subscriber to the event feed")
    async def create(
        self,
        conn: Conn,
        principal: Me,
        outbound_policy: Policy,
        data: JSONBody[SubscriberWrite],
    ) -> Subscriber:
        return await service.create(conn, data, principal, outbound_policy)

    @put(
        "/{subscriber_id:uuid}",
        summary="Replace a subscriber (its position is kept; a missing secret keeps the old "
        "one for the same url)",
    )
    async def replace(
        self,
        conn: Conn,
        principal: Me,
        outbound_policy: Policy,
        subscriber_id: Id,
        data: JSONBody[SubscriberWrite],
    ) -> Subscriber:
        return await service.replace(conn, subscriber_id, data, principal, outbound_policy)
