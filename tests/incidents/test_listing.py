"""Filters, newest-first order and cursor paging (nothing skipped or repeated)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from tests.conftest import new_incident

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def _walk(client, params: dict[str, object]) -> tuple[list[dict], int]:
    """Follow Link headers from the first page to the last; returns rows and page count."""
    rows: list[dict] = []
    response = await client.get("/api/v1/incidents", params=params)
    pages = 1
    while True:
        assert response.status_code == 200, response.text
        rows.extend(response.json())
        link = response.headers.get("link")
        if link is None:
            return rows, pages
        match = LINK.match(link)
        assert match is not None, link
        response = await client.get(match.group("url"))
        pages += 1


async def test_paging_visits_every_incident_once_newest_first(client, team) -> None:
    created = []
    for i in range(23):
        response = await client.post("/api/v1/incidents", json=new_incident(team, title=f"n{i}"))
        created.append(response.json()["incident_id"])

    rows, pages = await _walk(client, {"assigned_team": team, "limit": 5})
    assert pages == 5
    assert [r["incident_id"] for r in rows] == list(reversed(created))


async def test_paging_is_stable_while_new_incidents_arrive(client, team) -> None:
    for i in range(10):
        await client.post("/api/v1/incidents", json=new_incident(team, title=f"old{i}"))
    first = await client.get("/api/v1/incidents", params={"assigned_team": team, "limit": 4})
    seen = [r["incident_id"] for r in first.json()]
    # Newer incidents arriving between pages must not shift the pages already walked.
    await asyncio.gather(
        *(client.post("/api/v1/incidents", json=new_incident(team)) for _ in range(5))
    )
    url = LINK.match(first.headers["link"]).group("url")  # type: ignore[union-attr]
    while url:
        page = await client.get(url)
        seen.extend(r["incident_id"] for r in page.json())
        link = page.headers.get("link")
        url = LINK.match(link).group("url") if link else None  # type: ignore[union-attr]
    assert len(seen) == len(set(seen)) == 10


async def test_filters(client, team) -> None:
    a = (
        await client.post(
            "/api/v1/incidents",
            json=new_incident(team, severity="SEV1_CRITICAL", affected_services=["api", "db"]),
        )
    ).json()
    b = (
        await client.post(
            "/api/v1/incidents",
            json=new_incident(team, severity="SEV3_MEDIUM", affected_services=["db"]),
        )
    ).json()
    c = (
        await client.post(
            "/api/v1/incidents",
            json=new_incident(team, severity="SEV3_MEDIUM", affected_services=["web"]),
        )
    ).json()
    await client.put(f"/api/v1/incidents/{b['incident_id']}/status", json={"status": "RESOLVED"})

    async def ids(**params: object) -> list[str]:
        response = await client.get("/api/v1/incidents", params={"assigned_team": team, **params})
        assert response.status_code == 200, response.text
        return [r["incident_id"] for r in response.json()]

    assert await ids() == [c["incident_id"], b["incident_id"], a["incident_id"]]
    assert await ids(severity="SEV3_MEDIUM") == [c["incident_id"], b["incident_id"]]
    assert await ids(status="RESOLVED") == [b["incident_id"]]
    assert await ids(status="OPEN", severity="SEV3_MEDIUM") == [c["incident_id"]]
    assert await ids(affected_service="db") == [b["incident_id"], a["incident_id"]]
    assert await ids(affected_service="nothing") == []

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert await ids(created_after=future) == []
    assert len(await ids(created_after=past, created_before=future)) == 3
    assert await ids(created_before=a["created_at"]) == []
    assert await ids(created_after=c["created_at"]) == [c["incident_id"]]


async def test_default_and_maximum_limit(client, team) -> None:
    response = await client.get("/api/v1/incidents", params={"limit": 500})
    assert response.status_code == 200
    assert len(response.json()) <= 500
