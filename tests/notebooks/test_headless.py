"""Each notebook runs top to bottom, headless, with no cell failing (`app.run()`, as
`python notebooks/<name>.py` does), on the small world of `conftest.py`."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import plotly.graph_objects as go
import pytest

from pipelines import notebook_queries
from testkit.databases import ROOT
from tests.notebooks.conftest import NotebookWorld


def load(name: str) -> ModuleType:
    path = ROOT / "notebooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"notebook_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, world: NotebookWorld, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # versions from the folder only
    # app.run() raises when a cell fails; its outputs are not needed, its definitions are.
    _, defs = load(name).app.run()
    return dict(defs)


def test_incident_explorer(world: NotebookWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    defs = run("incident_explorer", world, monkeypatch)
    # REVIEW_INCIDENT put its id in the search box: it is the one match, so it is picked.
    incident = defs["incident"]
    assert incident["incident_id"] == world.incident_id
    assert incident["source_system"] == "service"
    lanes = defs["events"]["lane"].to_list()
    assert lanes.count("status") == 1 + 4  # opened, then each move
    assert defs["fetched"].postmortem is not None, defs["fetched"].reason
    assert f"# Post-mortem: {world.incident_id}" in defs["fetched"].markdown
    assert [v.version for v in defs["versions"]] == [1, 2]
    assert defs["predicted"].suggested_severity in {
        "SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW"
    }  # fmt: skip
    assert defs["save"].value is False  # nothing is saved until someone presses the button


def test_reliability(world: NotebookWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    defs = run("reliability", world, monkeypatch)
    weekly = defs["weekly"]
    # 1,200 synthetic incidents and the service's own (this test's, and any other test's).
    with notebook_queries.reading(defs["warehouse_file"]) as duck:
        service = duck.execute(
            "select count(*) from fct_incidents where source_system = 'service'"
        ).fetchall()[0][0]
    assert service >= 1
    assert weekly["incidents"].sum() == 1200 + service
    assert set(weekly["team"].to_list()) >= {"team-notebooks"}
    assert defs["noisy"].height == 10
    assert defs["load"]["pages"].sum() > 0


def test_model_explorer(world: NotebookWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    defs = run("model_explorer", world, monkeypatch)
    side = defs["side"]
    assert side["version"].to_list() == ["incident-models v1 (file)", "incident-models v2 (file)"]
    assert side["macro_f1"].is_between(0, 1).all()
    assert len(defs["test"]) > 100
    card = defs["card_text"]  # the chosen version's model card
    assert "## Quality gate" in card and "| SEV1_CRITICAL |" in card and "calibration" in card
    outcome = defs["outcome"]
    assert outcome.prediction.ttr_p10_hours <= outcome.prediction.ttr_p50_hours
    # The what-if's default is SEV3 with a latency title: no page, no scale-up; the shipped
    # predicted-long-running policy opens the ticket early when the model expects >= 4 h.
    long = outcome.prediction.ttr_p50_hours >= 4
    expected = ["create_ticket", "notify_webhook"] if long else []
    assert [a["action"] for a in outcome.actions] == expected
    assert isinstance(defs["go"].Figure(), go.Figure)
