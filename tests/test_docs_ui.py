"""The docs page at /docs works without internet: every file it names is served here, with
its content type, without an API key, and Swagger UI renders under the page's policy (in
Debian's headless Chromium, against the real server)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from testkit.server import served
from tests.notebooks.cdp import chromium_page

_REFERENCED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _referenced(page: str) -> list[str]:
    return _REFERENCED.findall(page)


async def test_the_page_names_only_files_served_here(client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # No URL to another host anywhere in the page (the document inside it included, whose
    # own links are relative or absent).
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", page.text), re.findall(
        r"https?://[^\s\"'<>]+", page.text
    )
    refs = _referenced(page.text)
    assert {Path(r).suffix for r in refs} == {".js", ".css", ".png"}, refs
    for ref in refs:
        assert ref.startswith("/docs/assets/"), ref
        asset = await client.get(ref, headers={"Authorization": ""})  # no key
        assert asset.status_code == 200, (ref, asset.text[:200])
        assert asset.headers["content-type"].startswith(_TYPES[Path(ref).suffix]), ref
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert len(asset.content) > 500
    # The policy lets exactly the page's own files and its one inline script run.
    policy = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+);", policy)
    assert script_src is not None
    sources = script_src.group(1).split()
    assert sources[-1] == "'self'" and len(sources) == 2, policy
    assert sources[0].startswith("'sha256-")
    assert "https:" not in policy and "http:" not in policy


async def test_only_listed_assets_are_served(client) -> None:
    for name in ("index.html", "swagger-initializer.js", "..%2Fpyproject.toml", "x.js"):
        answer = await client.get(f"/docs/assets/{name}", headers={"Authorization": ""})
        assert answer.status_code == 404, (name, answer.status_code)


async def test_assets_are_public_when_the_docs_are_not(settings: Settings) -> None:
    """PUBLIC_DOCS off: the page needs a key, its static files do not (a browser fetches
    them without the page's key; they hold nothing of ours)."""
    closed = settings.model_copy(update={"public_docs": False})
    async with AsyncTestClient(app=create_app(closed)) as anonymous:
        assert (await anonymous.get("/docs")).status_code == 401
        asset = await anonymous.get("/docs/assets/swagger-ui.css")
        assert asset.status_code == 200


async def test_labels_are_documented_as_an_object_of_strings(client) -> None:
    document = (await client.get("/docs/openapi.json")).json()
    labels = document["components"]["schemas"]["IncidentCreationRequest"]["properties"]["labels"]
    assert labels["type"] == "object"
    assert labels["additionalProperties"]["type"] == "string"
    assert labels["maxProperties"] == 50 and "maxLength" not in labels
    assert "items" not in labels
    # And the API takes what the document says.
    created = await client.post(
        "/api/v1/incidents",
        json={
            "title": "labels",
            "severity": "SEV4_LOW",
            "assigned_team": "docs-team",
            "labels": {"cause": "deploy", "env": "prod"},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["labels"] == {"cause": "deploy", "env": "prod"}


@pytest.fixture
def docs_server(database_url: str):  # type: ignore[no-untyped-def]
    with served(database_url, env={"PUBLIC_DOCS": "true"}) as (base, _proc):
        yield base


def test_swagger_ui_renders_in_chromium(docs_server: str, tmp_path: Path) -> None:
    with chromium_page(f"{docs_server}/docs") as page:
        operations = page.wait_for(
            "document.querySelectorAll('.opblock').length", lambda n: (n or 0) > 20
        )
        assert operations > 20
        shot = page.call("Page.captureScreenshot", format="png")
        (tmp_path / "docs.png").write_bytes(base64.b64decode(shot["data"]))
        # Every resource the page loaded came from this server.
        hosts = page.evaluate(
            "[...new Set(performance.getEntriesByType('resource')"
            ".map(e => new URL(e.name).origin))]"
        )
        assert hosts == [docs_server], hosts
        page.evaluate("document.querySelector('.btn.authorize').click()")
        dialog = page.wait_for(
            "document.querySelector('.modal-ux')?.innerText || ''",
            lambda t: "BearerApiKey" in t and "ApiKeyHeader" in t,
        )
        assert "X-API-Key" in dialog
        shot = page.call("Page.captureScreenshot", format="png")
        (tmp_path / "docs-authorize.png").write_bytes(base64.b64decode(shot["data"]))
