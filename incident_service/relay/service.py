"""Subscriber management (validated CRUD). Never commits.

Teams: a team key's subscribers belong to its team (they receive that team's events only)
and it sees, changes and removes only those; another team's or an all-teams subscriber is
404 to it, as if it did not exist. An all-teams subscriber (`team` null) receives every
team's events, so creating, changing or removing one needs an unrestricted admin key.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from uuid import UUID

from incident_service.auth.schemas import Principal, Scope
from incident_service.db import AsyncConn
from incident_service.errors import Conflict, Forbidden, ValidationFailed, bad_field
from incident_service.outbound import AddressRefused, OutboundPolicy
from incident_service.relay import repository
from incident_service.relay.repository import SUBSCRIBERS
from incident_service.relay.schemas import Subscriber, SubscriberWrite


def _invalid(field: str, message: str) -> ValidationFailed:
    return bad_field(field, message, summary=f"invalid {field}")


def _team_for(principal: Principal, data: SubscriberWrite) -> str | None:
    """The team the subscriber will belong to, or Forbidden."""
    if principal.team is not None:
        if data.team is not None and data.team != principal.team:
            msg = f"this API key is restricted to team {principal.team!r}"
            raise Forbidden(msg)
        return principal.team
    if data.team is None and Scope.ADMIN not in principal.scopes:
        msg = "an all-teams subscriber needs an admin key; name a team"
        raise Forbidden(msg, required_scope=Scope.ADMIN.value)
    return data.team


def subject_prefix(team: str) -> str:
    """The first subject token a team's NATS subscribers publish under: the team's name when
    it is a valid token, else a digest of it (collision-free in practice)."""
    if re.fullmatch(r"[A-Za-z0-9_\-]+", team):
        return team
    return "team_" + hashlib.sha256(team.encode()).hexdigest()[:16]


def _check_subject(data: SubscriberWrite, team: str | None) -> None:
    # A team's subscriber publishes only under that team's prefix: otherwise it could write
    # its events into a stream another team reads.
    if data.subject is None or team is None:
        return
    prefix = subject_prefix(team)
    if data.subject != prefix and not data.subject.startswith(prefix + "."):
        msg = f"a subscriber of team {team!r} publishes under {prefix!r} (e.g. {prefix}.events)"
        raise _invalid("subject", msg)


async def _check_url(policy: OutboundPolicy, data: SubscriberWrite) -> str | None:
    if data.url is None:
        return None
    url = str(data.url)
    try:
        await policy.check_url(url)
    except AddressRefused as exc:
        raise _invalid("url", str(exc)) from exc
    return url


def _values(
    data: SubscriberWrite, principal: Principal, team: str | None, url: str | None
) -> dict[str, Any]:
    return {
        "name": data.name,
        "team": team,
        "kind": data.kind,
        "url": url,
        "subject": data.subject,
        "secret": data.secret,
        "event_types": data.event_types,
        "active": data.active,
        "updated_by": principal.name,
        "updated_on_behalf_of": data.actor,
    }


def _name_taken(name: str) -> str:
    return f"a subscriber named {name!r} already exists"


async def create(
    conn: AsyncConn, data: SubscriberWrite, principal: Principal, policy: OutboundPolicy
) -> Subscriber:
    team = _team_for(principal, data)
    _check_subject(data, team)
    url = await _check_url(policy, data)
    row = await SUBSCRIBERS.insert(
        conn,
        _values(data, principal, team, url),
        exprs={"position_txid": repository.START[data.start]},
        conflict=_name_taken(data.name),
    )
    return Subscriber.from_row(row)


async def replace(
    conn: AsyncConn,
    sid: UUID,
    data: SubscriberWrite,
    principal: Principal,
    policy: OutboundPolicy,
) -> Subscriber:
    current = await SUBSCRIBERS.get_or_404(conn, sid, principal.team)
    _require_admin_for_all_teams(current, principal)
    team = _team_for(principal, data)
    _check_subject(data, team)
    url = await _check_url(policy, data)
    # The old secret signs only for the URL it was given with: re-pointing a trusted
    # subscriber elsewhere must not let the new receiver be sent signed events.
    if (
        data.kind == "webhook"
        and data.secret is None
        and current["secret"] is not None
        and url != current["url"]
    ):
        raise _invalid("secret", "a new url needs the secret again (the old one is not kept)")
    if await SUBSCRIBERS.taken(conn, sid, team=team, name=data.name):
        raise Conflict(_name_taken(data.name))
    row = await SUBSCRIBERS.update(
        conn,
        sid,
        principal.team,
        _values(data, principal, team, url),
        exprs={"secret": "coalesce(%(secret)s, secret)"} | repository.RESET,
    )
    return Subscriber.from_row(row)


def _require_admin_for_all_teams(row: dict[str, Any], principal: Principal) -> None:
    if row["team"] is None and Scope.ADMIN not in principal.scopes:
        msg = "changing an all-teams subscriber needs an admin key"
        raise Forbidden(msg, required_scope=Scope.ADMIN.value)


async def get(conn: AsyncConn, sid: UUID, principal: Principal) -> Subscriber:
    return Subscriber.from_row(await SUBSCRIBERS.get_or_404(conn, sid, principal.team))


async def list_all(conn: AsyncConn, principal: Principal) -> list[Subscriber]:
    return [Subscriber.from_row(r) for r in await SUBSCRIBERS.list(conn, principal.team)]


async def delete(conn: AsyncConn, sid: UUID, principal: Principal) -> None:
    current = await SUBSCRIBERS.get_or_404(conn, sid, principal.team)
    _require_admin_for_all_teams(current, principal)
    await SUBSCRIBERS.delete(conn, sid, principal.team, by=principal.name)
