"""The reports looked at as a person would: rendered in headless Chromium, every chart drawn."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines import sql_transforms, synthetic, warehouse
from pipelines.reports import reliability
from tests.pipelines.chromium import dom_after_scripts, screenshot
from tests.postmortems.test_postmortem_api import _resolved_incident

RELIABILITY_CHARTS = (
    "mttr-trend",
    "severity-mix",
    "slo-attainment",
    "noisy-services",
    "oncall-load",
)


def _drawn(dom: str, div_id: str) -> bool:
    """Plotly marks a div it has drawn with js-plotly-plot and fills it with SVG."""
    match = re.search(rf'<div id="{div_id}" class="[^"]*js-plotly-plot[^"]*"', dom)
    if not match:
        return False
    rest = dom[match.end() : match.end() + 200_000]
    return 'class="main-svg"' in rest and ('class="trace' in rest or 'class="bars"' in rest)


def test_reliability_report_charts_are_drawn(tmp_path: Path) -> None:
    duck = warehouse.connect(":memory:")
    history = synthetic.generate_history(4000, seed=11, days=120)
    for name in ("teams", "services", "deploys", "incidents"):
        warehouse.replace_table(duck, f"synthetic.{name}", getattr(history, name))
    warehouse.ensure_sources(duck)
    sql_transforms.run_all(duck)
    report = reliability.build(duck, weeks=12)
    assert report.weeks == 12
    html_path, _ = reliability.write(report, tmp_path, "reliability-test")
    assert "cdn" not in report.html.lower().split("<body>")[1][:5000]
    assert "<script src=" not in report.html  # self-contained: nothing fetched
    dom = dom_after_scripts(html_path)
    missing = [c for c in RELIABILITY_CHARTS if not _drawn(dom, c)]
    assert missing == []
    screenshot(html_path, tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 20_000


async def test_postmortem_page_charts_are_drawn(client, team: str, tmp_path: Path) -> None:
    incident_id = await _resolved_incident(client, team, title="Checkout <b>bold</b> & slow")
    page = (await client.get(f"/api/v1/incidents/{incident_id}/postmortem?format=html")).text
    path = tmp_path / "postmortem.html"
    path.write_text(page)
    dom = dom_after_scripts(path)
    assert _drawn(dom, "phases") and _drawn(dom, "timeline")
    # The user's markup arrives as text, not as elements.
    assert "<b>bold</b>" not in dom.split("<body>")[1].split('<div class="chart">')[0]
    assert "Checkout &lt;b&gt;bold&lt;/b&gt; &amp; slow" in dom
