"""The incident list: filters, search, paging, refusals naming the filter, the live stream
of changes, and nothing of another team."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from testkit.databases import make_api_key
from testkit.server import served
from tests.conftest import new_incident


async def open_incident(client, team: str, **overrides) -> str:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team, **overrides))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def test_filters_search_and_paging(client, team: str) -> None:
    word = f"zebra{secrets.token_hex(3)}"
    critical = await open_incident(client, team, severity="SEV1_CRITICAL", title=f"{word} down")
    minor = await open_incident(client, team, severity="SEV4_LOW", title="minor thing")
    page = await client.get("/ui/", params={"team": team, "severity": "SEV1_CRITICAL"})
    assert page.status_code == 200
    assert f"/ui/incidents/{critical}" in page.text and f"/ui/incidents/{minor}" not in page.text
    assert "selected>SEV1_CRITICAL" in page.text.replace('value="SEV1_CRITICAL" ', "")
    found = await client.get("/ui/", params={"q": word})
    assert found.status_code == 200 and "Matches, best first" in found.text
    assert f"/ui/incidents/{critical}" in found.text and "<mark>" in found.text
    nothing = await client.get("/ui/", params={"team": team, "status": "CLOSED"})
    assert "No incidents match these filters" in nothing.text
    # Paging: 50 a page, the next page by its cursor link.
    many = f"{team}-many"
    for _ in range(51):
        await open_incident(client, many)
    first = await client.get("/ui/", params={"team": many})
    assert first.text.count('<tr id="row-') == 50
    link = first.text.split('<a rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = await client.get(link)
    assert second.status_code == 200 and second.text.count('<tr id="row-') == 1


async def test_bad_filters_are_named(client) -> None:
    for params, field in (({"status": "SLEEPING"}, "status"), ({"severity": "SEV9"}, "severity")):
        answer = await client.get("/ui/", params=params, headers={"Accept": "text/html"})
        assert answer.status_code == 400
        assert f"<strong>{field}</strong>" in answer.text
    blank = await client.get("/ui/", params={"q": "   "})
    assert blank.status_code == 200  # blank search: the plain list


async def test_a_team_key_lists_and_searches_its_own_team_only(
    client, database_url: str, team: str
) -> None:
    word = f"okapi{secrets.token_hex(3)}"
    mine = await open_incident(client, team, title=f"{word} mine")
    theirs = await open_incident(client, f"{team}-b", title=f"{word} theirs")
    key = make_api_key(database_url, name="team-reader", scopes=["incidents:read"], team=team)
    headers = {"Authorization": f"Bearer {key}"}
    for params in ({}, {"q": word}, {"team": f"{team}-b"}, {"q": word, "team": f"{team}-b"}):
        page = await client.get("/ui/", params=params, headers=headers)
        assert page.status_code == 200
        assert f"/ui/incidents/{theirs}" not in page.text, params
    assert f"/ui/incidents/{mine}" in (await client.get("/ui/", headers=headers)).text
    assert 'id="f-team"' not in (await client.get("/ui/", headers=headers)).text


async def test_the_stream_says_changed_for_the_callers_incidents_only(
    database_url: str, team: str
) -> None:
    """Over a real server (the test client's transport holds a stream's body until it
    ends)."""
    key = make_api_key(database_url, name="team-watcher", scopes=["incidents:read"], team=team)
    admin = make_api_key(database_url, name="stream-admin", scopes=["admin"])
    with served(database_url) as (base, _proc):
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def first_change() -> str:
                headers = {"Authorization": f"Bearer {key}"}
                async with http.stream("GET", "/ui/incidents/stream", headers=headers) as stream:
                    assert stream.status_code == 200
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    changed = False
                    async for line in stream.aiter_lines():
                        changed = changed or line == "event: changed"
                        if changed and line.startswith("data: "):
                            return line[len("data: ") :]
                return ""

            waiting = asyncio.create_task(first_change())
            await asyncio.sleep(2)  # the stream has taken its starting position
            as_admin = {"Authorization": f"Bearer {admin}"}
            other = await http.post(
                "/api/v1/incidents", json=new_incident(f"{team}-other"), headers=as_admin
            )
            assert other.status_code == 201  # another team's incident: not said
            created = await http.post(
                "/api/v1/incidents", json=new_incident(team), headers=as_admin
            )
            said = await asyncio.wait_for(waiting, timeout=20)
            assert said.split() == [created.json()["incident_id"]]
