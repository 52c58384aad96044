"""A person escalates an incident now (the API's POST .../escalate and the console's
button): to a level, the notifications of that level delivered at once, and the team's
fallback paged when nobody of the level was reached."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from incident_service.config import Settings
from incident_service.db import AsyncConn
from incident_service.escalation import policies, repository, service
from incident_service.escalation.notify import Channel, deliver, webhook_channel
from incident_service.escalation.schemas import EscalationResult, Notified
from incident_service.http import HttpClient


async def escalate_now(
    conn: AsyncConn,
    settings: Settings,
    incident_id: str,
    *,
    target_level: int | None,
    reason: str,
    actor: policies.Actor,
) -> EscalationResult:
    escalated = await service.manual_escalation(
        conn,
        incident_id,
        target_level=target_level,
        reason=reason,
        actor=actor,
        channel="webhook",
    )
    notified: list[Notified] = []
    async with HttpClient() as client:
        channel = webhook_channel(settings, client)
        for n in escalated.notifications:
            notified.append(notified_of(await _deliver(conn, channel, n, escalated.incident)))
        if not any(n.delivery_status == "delivered" for n in notified):
            fallback = await service.page_fallback(
                conn,
                escalated.incident,
                key=f"m{escalated.level}-{secrets.token_hex(6)}",
                level=escalated.level,
                round_=escalated.round,
                tick=None,
                reason=f"level {escalated.level} reached nobody: the team's fallback is paged",
                actor=actor.name,
            )
            notified.append(
                notified_of(await _deliver(conn, channel, fallback, escalated.incident))
            )
    return EscalationResult(
        incident_id=incident_id,
        previous_level=escalated.previous_level,
        escalation_level=escalated.level,
        notified=notified,
        escalated_at=datetime.now(UTC),
    )


async def _deliver(
    conn: AsyncConn, channel: Channel, row: dict[str, Any], incident: dict[str, Any]
) -> dict[str, Any]:
    if row["delivery_status"] != "pending":
        return row
    ok, attempts, error = await deliver(channel, row, incident)
    recorded = await repository.record_delivery(
        conn, row["id"], delivered=ok, attempts=attempts, error=error
    )
    return recorded or row


def notified_of(row: dict[str, Any]) -> Notified:
    return Notified(**{k: row[k] for k in Notified.__struct_fields__})
