"""The reliability notebook served as an app (`marimo run`, headless, on 127.0.0.1) and
checked in headless Chromium: the page loads, a chart renders, a filter changes it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from testkit.databases import ROOT
from tests.notebooks.cdp import DEEP_QUERY, chromium_page
from tests.notebooks.conftest import NotebookWorld, free_port, wait_for

# The first chart on the page (the MTTA tab): its title and its traces' names and points.
FIRST_CHART = (
    DEEP_QUERY
    + """
(() => {
  const plots = deepQuery('.js-plotly-plot');
  if (!plots.length) return null;
  const p = plots[0];
  return {
    title: (p.layout && p.layout.title && (p.layout.title.text || p.layout.title)) || '',
    names: (p.data || []).map((t) => t.name),
    drawn: p.querySelectorAll('.scatterlayer .trace path').length,
  };
})()
"""
)
# Choose "severity" in the "lines by" dropdown as a person would (React sees a change).
GROUP_BY_SEVERITY = (
    DEEP_QUERY
    + """
(() => {
  const select = deepQuery('select').find((s) =>
    [...s.options].some((o) => o.textContent.trim() === 'severity'));
  if (!select) return 'no dropdown';
  const option = [...select.options].find((o) => o.textContent.trim() === 'severity');
  const setter = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
  setter.call(select, option.value);
  select.dispatchEvent(new Event('input', { bubbles: true }));
  select.dispatchEvent(new Event('change', { bubbles: true }));
  return 'changed';
})()
"""
)


@pytest.fixture
def served(world: NotebookWorld, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, **world.env}
    env.pop("DATABASE_URL", None)
    log = (tmp_path / "marimo.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "marimo", "run", "notebooks/reliability.py", "--headless",
         "--host", "127.0.0.1", "--port", str(port), "--no-token"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_reliability_app_renders_and_a_filter_changes_the_chart(served: str) -> None:
    with chromium_page(served) as page:
        page.wait_for(
            DEEP_QUERY + "deepQuery('h1').map((h) => h.textContent).join(' ')",
            lambda text: isinstance(text, str) and "Reliability" in text,
        )
        before = page.wait_for(FIRST_CHART, lambda c: bool(c and c["drawn"] > 0), timeout_s=90)
        assert before["title"] == "MTTA p50 (hours) by team"
        assert "team-notebooks" in before["names"] and "team-a" in before["names"]

        assert page.evaluate(GROUP_BY_SEVERITY) == "changed"
        after = page.wait_for(
            FIRST_CHART, lambda c: bool(c and c["title"].endswith("by severity") and c["drawn"])
        )
        assert set(after["names"]) == {"SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW"}
