"""The rules of links between incidents: which way a link is stored, what each side sees.

Takes a connection inside the caller's transaction and never commits; knows nothing of HTTP.
"""

from __future__ import annotations

from incident_service.auth.schemas import Principal
from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound, bad_field, missing_incident
from incident_service.links import repository
from incident_service.links.schemas import Link, LinkCreate, LinkType


def _stored(this: str, other: str, link_type: LinkType) -> tuple[str, str, str]:
    """(source, target, kind) of a link from `this` saying `other` is its `link_type`."""
    if link_type is LinkType.PARENT:
        return other, this, "parent"
    if link_type is LinkType.CHILD:
        return this, other, "parent"
    return min(this, other), max(this, other), "related"


async def add_link(
    conn: AsyncConn, incident_id: str, request: LinkCreate, *, principal: Principal
) -> Link:
    """Link two incidents once. An incident the key cannot see is a 404 (either side); the
    incident itself is a 400; a pair already linked (either way round) is a 409 naming the
    existing link; a parent or child link that would close a cycle of parent links, of any
    length, is a 409 naming `incident_id`."""
    other = request.incident_id
    if other == incident_id:
        raise bad_field("incident_id", "an incident cannot be linked to itself")
    if not await repository.visible(conn, incident_id, principal.team):
        raise missing_incident(incident_id)
    if not await repository.visible(conn, other, principal.team):
        raise missing_incident(other, field="incident_id")
    source, target, kind = _stored(incident_id, other, request.type)
    if kind == "parent":
        await _check_no_cycle(conn, parent=source, child=target)
    link_id = await repository.add_link(
        conn,
        {
            "this": incident_id,
            "other": other,
            "source": source,
            "target": target,
            "kind": kind,
            "team": principal.team,
            "actor": principal.name,
            "user_id": principal.user_id,
        },
    )
    if link_id is None:
        existing = await repository.link_between(conn, incident_id, other)
        msg = f"incidents {incident_id} and {other} are already linked"
        raise Conflict(msg, link_id=existing)
    rows = await repository.list_links(conn, incident_id, principal.team, link_id)
    return Link.from_row(rows[0])


async def _check_no_cycle(conn: AsyncConn, *, parent: str, child: str) -> None:
    """409 naming `incident_id` when `parent` is already below `child` (any depth): the
    new link would close a cycle. The path is not named: it may pass through incidents of
    teams the caller does not see."""
    await repository.lock_parent_links(conn)
    if await repository.reaches(conn, child, parent):
        msg = (
            f"incident {parent} cannot be the parent of {child}: {parent} is already below"
            f" {child} through parent links, and the link would make a cycle"
        )
        raise Conflict(
            msg,
            extra=[{"key": "incident_id", "source": "body", "message": "would make a cycle"}],
        )


async def list_links(conn: AsyncConn, incident_id: str, *, principal: Principal) -> list[Link]:
    if not await repository.visible(conn, incident_id, principal.team):
        raise missing_incident(incident_id)
    return [
        Link.from_row(r) for r in await repository.list_links(conn, incident_id, principal.team)
    ]


async def remove_link(
    conn: AsyncConn, incident_id: str, link_id: int, *, principal: Principal
) -> None:
    """Remove the link, recorded on both incidents' timelines; a link the key cannot see
    (either incident outside its team) is a 404."""
    removed = await repository.remove_link(
        conn,
        {"this": incident_id, "link_id": link_id, "team": principal.team, "actor": principal.name},
    )
    if not removed:
        msg = f"link {link_id} of incident {incident_id} not found"
        raise NotFound(msg)
