"""GET /api/v1/reports: the reports folder listed and served, nothing outside it."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.postmortems.html import markdown_to_html
from incident_service.postmortems.routes import negotiate


@pytest.fixture
async def reports_client(
    settings: Settings, tmp_path: Path, admin_headers: dict[str, str]
) -> AsyncIterator[tuple[AsyncTestClient, Path]]:  # type: ignore[type-arg]
    folder = tmp_path / "reports"
    folder.mkdir()
    custom = settings.model_copy(update={"reports_dir": folder, "db_pool_min_size": 1})
    async with AsyncTestClient(app=create_app(custom)) as client:
        client.headers.update(admin_headers)
        yield client, folder


async def test_lists_newest_first_and_serves_each(reports_client) -> None:
    client, folder = reports_client
    assert (await client.get("/api/v1/reports")).json() == []
    (folder / "reliability-a.md").write_text("# old\n")
    old = time.time() - 3600
    os.utime(folder / "reliability-a.md", (old, old))
    (folder / "reliability-b.html").write_text("<!DOCTYPE html><p>new</p>")
    (folder / "notes.txt").write_text("not a report")
    listed = (await client.get("/api/v1/reports")).json()
    assert [(r["name"], r["format"]) for r in listed] == [
        ("reliability-b.html", "html"),
        ("reliability-a.md", "markdown"),
    ]
    page = await client.get(listed[0]["url"])
    assert page.headers["content-type"].startswith("text/html") and "new" in page.text
    md = await client.get("/api/v1/reports/reliability-a.md")
    assert md.headers["content-type"].startswith("text/markdown") and md.text == "# old\n"


async def test_team_keys_and_anonymous_callers_are_refused(
    reports_client, database_url: str
) -> None:
    from testkit.databases import make_api_key

    client, _ = reports_client
    team_key = make_api_key(
        database_url, name="team-reader", scopes=["incidents:read"], team="some-team"
    )
    refused = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {team_key}"})
    assert refused.status_code == 403
    assert "restricted" in refused.json()["detail"]
    anonymous = await client.get("/api/v1/reports", headers={"Authorization": ""})
    assert anonymous.status_code == 401


@pytest.mark.parametrize("name", ["notes.txt", "..%2Fsecret.md", "missing.html", ".hidden.md"])
async def test_only_listed_files_are_served(reports_client, name: str) -> None:
    client, folder = reports_client
    (folder.parent / "secret.md").write_text("outside")
    (folder / "notes.txt").write_text("x")
    (folder / ".hidden.md").write_text("x")
    response = await client.get(f"/api/v1/reports/{name}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fmt", "accept", "expected"),
    [
        (None, "", "json"),
        (None, "*/*", "json"),
        (None, "text/html", "html"),
        (None, "text/markdown;q=0.9, text/html;q=0.8", "markdown"),
        (None, "text/html;q=0, text/markdown", "markdown"),
        (None, "image/png, text/html;q=0.1", "html"),
        ("MD", "text/html", "markdown"),
        ("json", "text/html", "json"),
    ],
)
def test_negotiation(fmt: str | None, accept: str, expected: str) -> None:
    assert negotiate(fmt, accept) == expected


def test_markdown_to_html_escapes_before_formatting() -> None:
    html = markdown_to_html(
        "# T <i>x</i>\n\n| a | b |\n| --- | --- |\n| <script>x</script> | `<b>` |\n\n- **<u>**\n"
    )
    assert "<i>" not in html and "<script>" not in html and "<u>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<code>&lt;b&gt;</code>" in html
    assert "<strong>&lt;u&gt;</strong>" in html
