"""Integration rules: creating integrations and their keys, finding them, their links."""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any
from uuid import UUID

from psycopg.pq import TransactionStatus

from incident_service.crud import Caller
from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound, Unavailable, bad_field
from incident_service.integrations import repository
from incident_service.integrations.repository import INTEGRATIONS
from incident_service.integrations.schemas import (
    INBOUND,
    Integration,
    IntegrationCreate,
    IntegrationKind,
    IntegrationUpdate,
    SyncState,
    check_rate_limit,
    validate_config,
)
from incident_service.integrations.settings import IntegrationSettings

log = logging.getLogger(__name__)

# Inbound paths by kind (events-v2 is PagerDuty's own path, so PagerDuty senders need
# only their base URL changed).
INBOUND_PATHS = {
    IntegrationKind.EVENTS_V2: "/v2/enqueue",
    IntegrationKind.ALERTMANAGER: "/api/v1/integrations/alertmanager/{key}",
    IntegrationKind.GRAFANA: "/api/v1/integrations/grafana/{key}",
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _with_key(integration: Integration, key: str) -> Integration:
    """The integration as answered to its create or key rotation: the only time the key
    is shown (only its hash is stored)."""
    integration.integration_key = key
    integration.url = INBOUND_PATHS[integration.kind].format(key=key)
    return integration


async def create_integration(
    conn: AsyncConn, request: IntegrationCreate, *, actor: str
) -> Integration:
    """Store the integration; an inbound one gets a new 32-character key, returned once."""
    key = secrets.token_hex(16) if request.kind in INBOUND else None
    row = await INTEGRATIONS.insert(
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
            "rate_per_min": request.rate_limit_per_min,
            "rate_burst": request.rate_limit_burst,
        },
    )
    await repository.audit(conn, row["id"], "created", actor, {"kind": request.kind.value})
    integration = Integration.from_row(row)
    return _with_key(integration, key) if key is not None else integration


def _checked(kind: IntegrationKind, request: IntegrationUpdate) -> dict[str, Any]:
    """The update's config and limits checked against the integration's kind, or 400."""
    try:
        config = validate_config(kind, request.config)
    except ValueError as exc:
        raise bad_field("config", str(exc)) from exc
    for field in ("rate_limit_per_min", "rate_limit_burst"):
        try:
            check_rate_limit(kind, getattr(request, field))
        except ValueError as exc:
            raise bad_field(field, str(exc)) from exc
    return config


# What an update may change: the request's field, and the column holding it.
_CHANGEABLE = {
    "name": "name",
    "severities": "severities",
    "config": "config",
    "rate_limit_per_min": "rate_per_min",
    "rate_limit_burst": "rate_burst",
}


async def update_integration(
    conn: AsyncConn,
    integration_id: UUID,
    request: IntegrationUpdate,
    by: Caller,
) -> Integration:
    """Replace name, severities, config and limits, the config checked against its kind.
    Another team's integration is answered as a missing one: no existence leak."""
    current = await INTEGRATIONS.get_or_404(conn, integration_id, by.team)
    config = _checked(IntegrationKind(current["kind"]), request)
    row = await INTEGRATIONS.update(
        conn,
        integration_id,
        by.team,
        {
            "name": request.name,
            "severities": [s.value for s in request.severities],
            "config": config,
            "rate_per_min": request.rate_limit_per_min,
            "rate_burst": request.rate_limit_burst,
        },
    )
    changed = sorted(k for k, c in _CHANGEABLE.items() if current[c] != row[c])
    await repository.audit(conn, integration_id, "updated", by.name, {"changed": changed})
    return Integration.from_row(row)


async def set_enabled(
    conn: AsyncConn, integration_id: UUID, enabled: bool, by: Caller
) -> Integration:
    """Disable (its key is refused at once, as an unknown key is; outbound syncs stop) or
    enable again."""
    row = await INTEGRATIONS.update(conn, integration_id, by.team, {"enabled": enabled})
    action = "enabled" if enabled else "disabled"
    await repository.audit(conn, integration_id, action, by.name, {})
    return Integration.from_row(row)


async def rotate_key(conn: AsyncConn, integration_id: UUID, by: Caller) -> Integration:
    """A new key for an inbound integration, returned once; the old one stops working as
    soon as this commits (keys are looked up on every request, never cached)."""
    current = await INTEGRATIONS.get_or_404(conn, integration_id, by.team)
    if IntegrationKind(current["kind"]) not in INBOUND:
        msg = f"a {current['kind']} integration has no key to rotate"
        raise Conflict(msg)
    key = secrets.token_hex(16)
    row = await INTEGRATIONS.update(
        conn,
        integration_id,
        by.team,
        {"key_sha256": hash_key(key), "key_prefix": key[:6]},
        where="key_sha256 is not null",
    )
    await repository.audit(
        conn,
        integration_id,
        "key_rotated",
        by.name,
        {"old_prefix": current["key_prefix"], "new_prefix": key[:6]},
    )
    return _with_key(Integration.from_row(row), key)


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
    try:
        validate_config(IntegrationKind(row["kind"]), row["config"])
    except ValueError as exc:
        # Stored before configs were checked (or written around the API): our fault, not
        # the sender's, so a 5xx that senders retry once an operator has corrected it.
        log.warning("integration %s has an invalid config: %s", row["id"], exc)
        msg = "this integration's configuration is invalid; an operator must correct it"
        raise Unavailable(msg, retry_after=60) from exc
    return row


async def list_integrations(conn: AsyncConn, team: str | None) -> list[Integration]:
    return [Integration.from_row(r) for r in await INTEGRATIONS.list(conn, team)]


async def get_integration(conn: AsyncConn, integration_id: UUID, team: str | None) -> Integration:
    return Integration.from_row(await INTEGRATIONS.get_or_404(conn, integration_id, team))


async def syncs(
    conn: AsyncConn,
    *,
    incident_id: str | None,
    status: str | None,
    limit: int,
    team: str | None = None,
) -> list[SyncState]:
    """Sync steps, of `team`'s integrations only when a team is given."""
    rows = await repository.syncs(conn, incident_id, status, limit, team)
    return [SyncState(**r) for r in rows]


async def intake_wait(conn: AsyncConn, key: str, settings: IntegrationSettings) -> float:
    """Take one event from the bucket of the integration with this key: 0 when admitted
    (or when no enabled integration has the key: the caller answers that), else the
    seconds until the next event would be.

    Called before the request's transaction has begun, the statement runs on its own
    (autocommit) so the bucket's row lock lasts one statement, not a whole ingest."""
    sha = hash_key(key)
    per_min, burst = settings.intake_rate_per_min, settings.intake_burst
    if conn.info.transaction_status == TransactionStatus.IDLE and not conn.autocommit:
        await conn.set_autocommit(True)
        try:
            row = await repository.take_intake_token(conn, sha, per_min, burst)
        finally:
            await conn.set_autocommit(False)
    else:
        row = await repository.take_intake_token(conn, sha, per_min, burst)
    if row is None or row["allowed"]:
        return 0.0
    return float((1.0 - row["tokens"]) / row["rate_per_s"])


async def first_delivery(conn: AsyncConn, identity: str, window_s: float) -> bool:
    """True the first time a signed webhook (its signature, or its vendor event id) is
    seen within the replay window; False for a replay. Remembered for twice the window:
    a timestamp may be up to one window ahead of now and is accepted until one behind."""
    if secrets.randbelow(64) == 0:  # expired entries go now and then, by any replica
        await repository.forget_expired_webhooks(conn)
    digest = hashlib.sha256(identity.encode()).hexdigest()
    return await repository.remember_webhook(conn, digest, 2 * window_s)
