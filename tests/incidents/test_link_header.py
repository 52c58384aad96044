"""The paging `Link` header never echoes the client's Host header."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from tests.conftest import new_incident


async def test_link_is_relative_or_the_public_url_never_the_host_header(
    client, team: str, settings: Settings, admin_headers: dict[str, str]
) -> None:
    for i in range(3):
        created = await client.post("/api/v1/incidents", json=new_incident(team, title=f"l{i}"))
        assert created.status_code == 201
    params = {"assigned_team": team, "limit": 1}
    evil = {"Host": "evil.example"}
    link = (await client.get("/api/v1/incidents", params=params, headers=evil)).headers["link"]
    assert "evil.example" not in link
    assert link.startswith("</api/v1/incidents?") and link.endswith('>; rel="next"')

    public = settings.model_copy(
        update={"public_url": "https://incidents.example.com/", "db_pool_min_size": 1}
    )
    async with AsyncTestClient(app=create_app(public)) as other:
        answer = await other.get(
            "/api/v1/incidents", params=params, headers={**admin_headers, **evil}
        )
    link = answer.headers["link"]
    assert link.startswith("<https://incidents.example.com/api/v1/incidents?"), link
    assert "evil.example" not in link
