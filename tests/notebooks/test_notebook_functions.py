"""The functions the notebooks call: warehouse queries, the API client, model review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import httpx
import numpy as np
import polars as pl
import pytest

from models import diagnostics
from pipelines import incident_api, notebook_queries, what_if
from tests.conftest import new_incident
from tests.notebooks.conftest import CUTOFF, NotebookWorld


@pytest.fixture
def duck(world: NotebookWorld) -> Iterator[duckdb.DuckDBPyConnection]:
    with notebook_queries.reading(world.warehouse) as conn:
        yield conn


def test_trend_means_what_the_weekly_report_means(duck: duckdb.DuckDBPyConnection) -> None:
    teams = [t for t in notebook_queries.options(duck).teams if t.startswith("team-") and len(t) == 6]
    mine = notebook_queries.trend(duck, notebook_queries.Filters(teams=teams), by="service").sort("week", "service")
    report = pl.from_arrow(
        duck.sql(
            "select week, service, incidents, mtta_p50_s, mttr_p50_s, ack_slo_attainment,"
            " resolve_slo_attainment from rpt_reliability_weekly where not is_total"
            " and team in (select unnest(?)) order by week, service",
            params=[teams],
        ).to_arrow_table()
    )
    assert isinstance(report, pl.DataFrame) and report.height > 50
    columns = ["week", "service", "incidents", "mtta_p50_s", "mttr_p50_s"]
    columns += ["ack_slo_attainment", "resolve_slo_attainment"]
    assert mine.select(columns).equals(report.select(columns))


def test_filters_and_search(duck: duckdb.DuckDBPyConnection, world: NotebookWorld) -> None:
    sev1 = notebook_queries.search_incidents(duck, filters=notebook_queries.Filters(severities=["SEV1_CRITICAL"]))
    assert sev1.height and set(sev1["severity"]) == {"SEV1_CRITICAL"}
    day = notebook_queries.search_incidents(
        duck, filters=notebook_queries.Filters(since=date(2025, 2, 3), until=date(2025, 2, 3))
    )
    assert day.height and {d.date() for d in day["created_at"]} == {date(2025, 2, 3)}
    by_id = notebook_queries.search_incidents(duck, world.incident_id.lower())
    assert by_id["incident_id"][0] == world.incident_id
    older = notebook_queries.search_incidents(duck, "SYN-0000010")  # SYN-00000100 .. SYN-00000109
    assert older.height == 10
    assert notebook_queries.search_incidents(duck, "syn-00000105")["incident_id"].to_list() == [
        "SYN-00000105"
    ]
    latency = notebook_queries.search_incidents(duck, "high LATENCY", limit=500)
    assert latency.height and all("high latency" in t.lower() for t in latency["title"])
    assert notebook_queries.search_incidents(duck, "' or 1=1 --").height == 0  # a value, never SQL


def test_incident_events_and_similar(duck: duckdb.DuckDBPyConnection, world: NotebookWorld) -> None:
    events = notebook_queries.incident_events(duck, world.incident_id)
    status = events.filter(pl.col("lane") == "status")
    assert status["outcome"].to_list() == [
        "OPEN", "ACKNOWLEDGED", "INVESTIGATING", "MONITORING", "RESOLVED"
    ]  # fmt: skip
    # Whatever the response policies started for it (SEV2, latency) is on the chart too.
    responses = duck.execute(
        "select count(*) from raw.automated_responses where incident_id = ?", [world.incident_id]
    ).fetchall()[0][0]
    assert events.filter(pl.col("lane") == "automated responses").height >= responses
    assert events["at"].is_sorted()
    synthetic = notebook_queries.search_incidents(duck, filters=notebook_queries.Filters(teams=["team-a"]), limit=1)
    milestones = notebook_queries.incident_events(duck, synthetic["incident_id"][0])
    assert milestones["label"].to_list()[:1] == ["created"]


def test_similar_comes_from_the_api_and_names_only_the_team(world: NotebookWorld) -> None:
    """The notebook shows the API's similar incidents (the post-mortem's definition): of
    the incident's own team only, even to an admin key."""
    headers = {"Authorization": f"Bearer {world.api_key}"}
    with httpx.Client(base_url=world.api_url, headers=headers, timeout=30) as api:
        title = "Checkout Service High Latency"  # the world's incident's title
        theirs = api.post(
            "/api/v1/incidents", json=new_incident("team-elsewhere", title=title)
        ).json()["incident_id"]
        probe = api.post(
            "/api/v1/incidents", json=new_incident("team-notebooks", title=title)
        ).json()["incident_id"]
        found = incident_api.fetch_similar(api, probe)
    assert found.reason == ""
    ids = [s.incident_id for s in found.similar]
    assert world.incident_id in ids and theirs not in ids and probe not in ids
    assert {s.assigned_team for s in found.similar} == {"team-notebooks"}
    scores = [s.score for s in found.similar]
    assert scores == sorted(scores, reverse=True)
    with incident_api.client_from_env({"INCIDENT_API_URL": world.api_url}) as anonymous:
        refused = incident_api.fetch_similar(anonymous, probe)
    assert refused.similar == [] and refused.reason.startswith("401")


def test_parse_review() -> None:
    body = incident_api.parse_review(
        "pool limit\n\n  retries amplified it \n",
        "cap the pool | bob | 2026-12-01\nalert on refusals | carol\n",
    )
    assert body == {
        "contributing_factors": ["pool limit", "retries amplified it"],
        "action_items": [
            {"action": "cap the pool", "owner": "bob", "due": "2026-12-01"},
            {"action": "alert on refusals", "owner": "carol"},
        ],
    }
    with pytest.raises(incident_api.ReviewInputError, match="action line 2"):
        incident_api.parse_review("", "ok | me\nno owner here")
    with pytest.raises(incident_api.ReviewInputError, match="'next week' is not YYYY-MM-DD"):
        incident_api.parse_review("", "x | me | next week")


def test_review_saved_through_the_api(world: NotebookWorld) -> None:
    client = incident_api.client_from_env(
        {"INCIDENT_API_URL": world.api_url, "INCIDENT_API_KEY": world.api_key}
    )
    with client:
        body = incident_api.parse_review("a config push", "revert the push | dana")
        saved = incident_api.save_review(client, world.incident_id, body)
        assert saved["contributing_factors"] == ["a config push"]
        fetched = incident_api.fetch_postmortem(client, world.incident_id)
        assert "revert the push (owner: dana)" in fetched.markdown
        again = incident_api.fetch_review(client, world.incident_id)
        assert again is not None
        assert incident_api.parse_review(*incident_api.review_text(again)) == body
        with pytest.raises(incident_api.ReviewInputError, match="owner"):
            incident_api.save_review(
                client, world.incident_id, {"contributing_factors": [], "action_items": [{}]}
            )
        missing = incident_api.fetch_postmortem(client, "NOPE-404")
        assert missing.postmortem is None and missing.reason.startswith("404")
    unreachable = incident_api.client_from_env({"INCIDENT_API_URL": "http://127.0.0.1:9"})
    with unreachable:
        assert "unreachable" in incident_api.fetch_postmortem(unreachable, "X").reason


def test_history_censors_what_was_not_resolved_by_then() -> None:
    opened = datetime(2025, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "title": ["a", "b", "c"],
            "severity": ["SEV1_CRITICAL", "SEV4_LOW", "SEV2_HIGH"],
            "assigned_team": ["t", "t", "t"],
            "affected_services": [["s"], ["s"], []],
            "created_at": [opened, opened, datetime(2025, 1, 3, tzinfo=UTC)],
            "resolved_at": [datetime(2025, 1, 1, 2, tzinfo=UTC), None, None],
        }
    )
    history = diagnostics.history_from_incidents(frame, datetime(2025, 1, 2, tzinfo=UTC))
    assert len(history) == 2  # the third opened after the moment
    assert history.outcomes.observed.tolist() == [True, False]
    assert history.outcomes.duration_hours.tolist() == [2.0, 24.0]
    assert history.outcomes.severity.tolist() == [0, 3]


def test_model_review_on_a_later_window(
    duck: duckdb.DuckDBPyConnection, world: NotebookWorld
) -> None:
    frame = notebook_queries.incidents_for_models(duck, "synthetic")
    history = diagnostics.history_from_incidents(frame, diagnostics.window_end(frame))
    test = diagnostics.time_split(history, CUTOFF).test
    assert all(i.opened_at >= CUTOFF for i in test.incidents)
    version = diagnostics.versions_from_folder(world.models_dir)[0]
    scored = diagnostics.score_window(version.artifact, test)
    assert diagnostics.calibration(scored, test)["incidents"].sum() == len(test)
    assert diagnostics.confusion(scored, test).sum() == len(test)
    coverage = diagnostics.interval_coverage(scored, test)["observed"].to_numpy()
    assert np.all(np.diff(coverage) >= 0) and 0 <= coverage[0] <= coverage[-1] <= 1
    drift = diagnostics.drift_by_week(scored, test)
    assert drift["incidents"].sum() == len(test)
    assert all(w.weekday() == 0 for w in drift["week"])


def test_what_if_runs_the_policies_on_the_edited_incident(world: NotebookWorld) -> None:
    artifact = diagnostics.versions_from_folder(world.models_dir)[0].artifact
    common = {"team": "team-a", "services": ["checkout_service"], "opened_at": CUTOFF}
    low = what_if.what_if(artifact, title="Checkout latency", severity="SEV4_LOW", **common)
    high = what_if.what_if(
        artifact, title="Checkout latency", severity="SEV1_CRITICAL", **common
    )
    # A SEV4 gets only what the shipped policies on predictions say for the model's view.
    expected = set()
    if low.prediction.severity_probabilities["SEV1_CRITICAL"] >= 0.6:
        expected.add("predicted-critical")
    if low.prediction.ttr_p50_hours >= 4:
        expected.add("predicted-long-running")
    assert {m["policy"] for m in low.matched} == expected
    assert bool(low.actions) == bool(expected)
    assert [a["action"] for a in high.actions][:3] == [
        "page_oncall", "notify_webhook", "scale_up_service"
    ]  # fmt: skip
    assert {m["policy"] for m in high.matched} >= {"page-on-critical", "scale-latency"}
    assert low.prediction == high.prediction  # severity is an outcome, not a model input
    other = what_if.what_if(artifact, title="Ledger disk full", severity="SEV4_LOW", **common)
    assert other.prediction != low.prediction  # the text is an input


def test_no_notebook_shadows_a_package() -> None:
    """marimo puts a notebook's folder first on ``sys.path``: a notebook named like one of
    our packages would be what ``import <package>`` finds from inside every notebook."""
    from testkit.databases import ROOT

    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert {"models", "pipelines", "incident_service"} <= packages
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.py")}
    assert notebooks
    assert not notebooks & packages


def test_versions_from_the_registry_and_the_folder(world: NotebookWorld, database_url: str) -> None:
    import secrets

    import psycopg

    from models import registry

    name = f"notebook-test-{secrets.token_hex(3)}"
    artifact = diagnostics.versions_from_folder(world.models_dir)[0].artifact
    with psycopg.connect(database_url) as pg:
        registry.register(pg, artifact, {}, (None, None, CUTOFF), actor="tests", name=name)
    env = {"DATABASE_URL": database_url, "MODELS_DIR": str(world.models_dir)}
    found, where = diagnostics.available_versions(env)
    mine = [v for v in found if v.name == name]
    assert [(v.version, v.status, v.source) for v in mine] == [(1, "candidate", "registry")]
    assert mine[0].artifact.to_bytes() == artifact.to_bytes()
    assert [v.source for v in found if v.source != "registry"] == [
        str(world.models_dir / "incident-models-v1.npz"),
        str(world.models_dir / "incident-models-v2.npz"),
    ]
    assert "the model registry" in where
    down = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/x",
        "MODELS_DIR": str(world.models_dir),
    }
    found, where = diagnostics.available_versions(down)
    assert len(found) == 2 and "not the registry" in where
