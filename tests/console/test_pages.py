"""The console's pages as served: HTML with its own strict policy, its assets from the
package, and the same guard as the API."""

from __future__ import annotations

from tests.conftest import new_incident


async def test_incident_list_lists_an_incident(client, team) -> None:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/incidents", json=new_incident(team))
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident_id"]
    answer = await client.get("/ui/")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert f'href="/ui/incidents/{incident_id}"' in answer.text


async def test_assets_are_served_from_the_package(client) -> None:  # type: ignore[no-untyped-def]
    for name, kind in (("htmx.min.js", "text/javascript"), ("console.css", "text/css")):
        answer = await client.get(f"/ui/static/{name}", headers={"Authorization": ""})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(kind)
    assert (await client.get("/ui/static/pages.py")).status_code == 404


async def test_pages_need_a_key(client) -> None:  # type: ignore[no-untyped-def]
    answer = await client.get("/ui/", headers={"Authorization": ""}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/"
