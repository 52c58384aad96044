"""Hostile text in post-mortems and reports stays text, and our pages carry their headers:
one charset, a script policy naming the page's own scripts only, nosniff, no framing."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.postmortems.html import (
    content_security_policy,
    markdown_to_html,
    md_text,
)
from incident_service.postmortems.html import page as html_page
from pipelines import sql_transforms, synthetic, warehouse
from pipelines.reports import reliability
from tests.pipelines.chromium import dom_after_scripts
from tests.postmortems.test_postmortem_api import _resolved_incident

SCRIPT = "<script>alert(1)</script>"
ONERROR = '<img src=x onerror="alert(2)">'
LINK = "[click me](javascript:alert(3))"
HEADING = "# Injected heading"


def _assert_inert_markdown(markdown: str) -> None:
    assert "<script" not in markdown and "<img" not in markdown
    assert not re.search(r"(?<!\\)\]\(javascript:", markdown), "a link"
    assert not any("Injected" in line for line in markdown.splitlines() if line.startswith("#"))


def _assert_inert_html(page: str) -> None:
    body = page.split("<body>", 1)[1]
    assert "<script>alert" not in body and "<img" not in body
    assert 'href="javascript' not in body and "<a " not in body
    assert not re.search(r"<h\d>[^<]*Injected", body), "a line of text became a heading"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # shown, as text


async def _hostile_postmortem(client: AsyncTestClient, team: str) -> str:  # type: ignore[type-arg]
    incident_id = await _resolved_incident(client, team, title=f"Checkout down {SCRIPT}")
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    review = {
        "contributing_factors": [HEADING, f"{ONERROR} and {LINK}", f"first\n{HEADING} two"],
        "action_items": [{"action": f"{LINK}\n# Another heading", "owner": SCRIPT}],
    }
    saved = await client.put(f"{url}/review", json=review)
    assert saved.status_code == 200, saved.text
    return url


async def test_hostile_review_and_title_are_text_in_markdown_and_html(client, team: str) -> None:
    url = await _hostile_postmortem(client, team)
    markdown = (await client.get(f"{url}?format=markdown")).text
    _assert_inert_markdown(markdown)
    assert "Another heading" in markdown  # kept, on the action's own line
    page = (await client.get(f"{url}?format=html")).text
    _assert_inert_html(page)
    assert re.findall(r"<h1>", page) == ["<h1>"]  # the title's, only
    # The JSON keeps exactly what people wrote.
    assert (await client.get(url)).json()["contributing_factors"][0] == HEADING


def test_markdown_text_round_trips_through_our_renderer() -> None:
    for text in (SCRIPT, ONERROR, LINK, HEADING, "- item", "1. item", "a | b", "x & y", "`c`"):
        rendered = markdown_to_html(f"- {md_text(text)}")
        assert rendered == f"<ul><li>{_esc(text)}</li></ul>", text


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_reliability_report_markdown_and_html_keep_names_as_text(tmp_path: Path) -> None:
    duck = warehouse.connect(":memory:")
    history = synthetic.generate_history(300, seed=3, days=30)
    hostile = {SCRIPT, ONERROR, LINK, HEADING}
    names = sorted(history.incidents["assigned_team"].unique().to_list())[:4]
    rename = dict(zip(names, sorted(hostile), strict=True))
    incidents = history.incidents.with_columns(pl.col("assigned_team").replace(rename))
    teams = history.teams
    if "team" in teams.columns:
        teams = teams.with_columns(pl.col("team").replace(rename))
    for name, frame in (
        ("teams", teams),
        ("services", history.services),
        ("deploys", history.deploys),
        ("incidents", incidents),
    ):
        warehouse.replace_table(duck, f"synthetic.{name}", frame)
    warehouse.ensure_sources(duck)
    sql_transforms.run_all(duck)
    report = reliability.build(duck, weeks=4)
    assert "&lt;script&gt;" in report.markdown, "the hostile team should be in the report"
    _assert_inert_markdown(report.markdown)
    _assert_inert_html(report.html)


async def test_html_answers_have_one_charset_a_page_policy_and_nosniff(
    client, team: str, settings: Settings, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    url = await _hostile_postmortem(client, team)
    page = await client.get(f"{url}?format=html")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert policy == content_security_policy()
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy.split("style")[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    # The header names exactly the page's scripts, by hash.
    assert len(re.findall(r"'sha256-", policy)) == len(re.findall(r"<script>", page.text)) == 2

    markdown = await client.get(f"{url}?format=markdown")
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.headers["x-content-type-options"] == "nosniff"
    assert (
        markdown.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    for answer in (await client.get(url), await client.get("/api/v1/incidents/nope")):
        assert answer.headers["x-content-type-options"] == "nosniff"

    folder = tmp_path / "reports"
    folder.mkdir()
    custom = settings.model_copy(update={"reports_dir": folder, "db_pool_min_size": 1})
    async with AsyncTestClient(app=create_app(custom)) as reports:
        (folder / "reliability-x.html").write_text(html_page("x", "<p>x</p>"))
        served = await reports.get("/api/v1/reports/reliability-x.html", headers=admin_headers)
    assert served.headers["content-type"] == "text/html; charset=utf-8"
    assert served.headers["content-security-policy"] == content_security_policy()
    assert served.headers["x-content-type-options"] == "nosniff"

    docs = await client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    docs_policy = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs_policy and "'sha256-" in docs_policy
    for src in re.findall(r'<script[^>]*src="([^"]+)"', docs.text):
        # Served by the app itself (no CDN), which the policy allows as 'self' only.
        assert src.startswith("/docs/assets/") and "'self'" in docs_policy, src


async def test_the_policy_lets_the_charts_draw_and_stops_an_injected_script(
    client, team: str, tmp_path: Path
) -> None:
    url = await _hostile_postmortem(client, team)
    page = (await client.get(f"{url}?format=html")).text
    # As if an escaping bug let a script through: the page's own policy must stop it.
    injected = page.replace(
        "</body>", "<script>document.body.setAttribute('data-pwned', 'yes')</script></body>"
    )
    path = tmp_path / "postmortem.html"
    path.write_text(injected)
    dom = dom_after_scripts(path)
    assert "data-pwned" not in dom.split("<script>document.body")[0]
    assert 'data-pwned="yes"' not in dom
    for chart in ("phases", "timeline"):
        assert re.search(rf'<div id="{chart}" class="[^"]*js-plotly-plot', dom), chart
