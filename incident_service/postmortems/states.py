"""The post-mortem's review: draft -> in_review -> published, and its versions.

Publishing needs every follow-up of the incident (those not being done excepted) to have
an owner; it regenerates the post-mortem from the record one last time and freezes that
version (`postmortem_versions`). A published post-mortem is immutable: its review cannot
be edited, and any later change (back to draft, or a regeneration after the incident was
reopened and resolved again) starts the next version. Each move is one statement with its
timeline entry and `postmortem_state_changed` event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from incident_service.db import AsyncConn
from incident_service.errors import Conflict, NotFound
from incident_service.followups import repository as follow_ups
from incident_service.postmortems import render, repository, service
from incident_service.postmortems.lifecycle import PostmortemState, check_move
from incident_service.postmortems.schemas import Postmortem, PostmortemVersion


async def change_state(
    conn: AsyncConn,
    incident_id: str,
    target: PostmortemState,
    *,
    actor: str,
    note: str | None = None,
) -> Postmortem:
    current_pm = await service.get_or_generate(conn, incident_id, generated_by=actor)
    row = await repository.get_stored(conn, incident_id, for_update=True)
    assert row is not None  # get_or_generate stored it
    current = PostmortemState(row["state"])
    check_move(incident_id, current, target)
    if target is current:
        return current_pm
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "from": current.value,
        "to": target.value,
        "actor": actor,
        "note": note,
        "next_version": current is PostmortemState.PUBLISHED,
        "document": None,
        "markdown": None,
        "published_at": None,
    }
    if target is PostmortemState.PUBLISHED:
        await _check_owners(conn, incident_id)
        now = datetime.now(UTC)
        built = await service.build(conn, incident_id, generated_by=actor)
        frozen = msgspec.structs.replace(
            built,
            state=target.value,
            version=row["version"],
            published_at=now,
            published_by=actor,
        )
        values |= {
            "document": msgspec.to_builtins(frozen),
            "markdown": render.to_markdown(frozen),
            "published_at": now,
        }
    moved = await repository.move(conn, values)
    document = msgspec.convert(moved["document"], Postmortem, strict=False)
    return service.with_state(document, moved)


async def _check_owners(conn: AsyncConn, incident_id: str) -> None:
    missing = await follow_ups.without_owner(conn, incident_id)
    if missing:
        listed = [{"follow_up_id": str(m["id"]), "title": m["title"]} for m in missing]
        msg = (
            f"every follow-up must have an owner before the post-mortem of {incident_id} is"
            f" published; {len(listed)} have none"
        )
        raise Conflict(msg, follow_ups_without_owner=listed)


async def refuse_if_published(conn: AsyncConn, incident_id: str) -> None:
    """A published post-mortem is immutable: 409 naming how to change it."""
    row = await repository.get_stored(conn, incident_id)
    if row is not None and row["state"] == PostmortemState.PUBLISHED:
        msg = (
            f"version {row['version']} of the post-mortem of {incident_id} is published and"
            " cannot change; move it back to draft (PUT .../postmortem/state) to start"
            f" version {row['version'] + 1}"
        )
        raise Conflict(msg, state=row["state"], version=row["version"])


async def version(conn: AsyncConn, incident_id: str, number: int, *, actor: str) -> Postmortem:
    """Version `number`: the current one, or one published before it."""
    current = await service.get_or_generate(conn, incident_id, generated_by=actor)
    if number == current.version:
        return current
    found = await repository.published_version(conn, incident_id, number)
    if found is None:
        msg = f"the post-mortem of {incident_id} has no published version {number}"
        raise NotFound(msg)
    return msgspec.convert(found["document"], Postmortem, strict=False)


async def versions(
    conn: AsyncConn, incident_id: str, *, actor: str, base: str
) -> list[PostmortemVersion]:
    """Every published version, oldest first, and the current one when it is not one."""
    current = await service.get_or_generate(conn, incident_id, generated_by=actor)
    listed = [
        PostmortemVersion(
            version=r["version"],
            state=PostmortemState.PUBLISHED.value,
            published_at=r["published_at"],
            published_by=r["published_by"],
            url=f"{base}?version={r['version']}",
        )
        for r in await repository.published_versions(conn, incident_id)
    ]
    if not any(v.version == current.version for v in listed):
        listed.append(
            PostmortemVersion(
                version=current.version,
                state=current.state,
                published_at=None,
                published_by=None,
                url=f"{base}?version={current.version}",
            )
        )
    return listed
