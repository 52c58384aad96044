"""Merged incidents in the warehouse: a real Dagster run (ingest, SQL models, checks, the
report) over incidents merged through the API. A duplicate counts once, as its target."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from incident_service.config import Settings
from models.records import SEVERITIES
from pipelines import definitions
from pipelines.ml import calibration, history
from tests.conftest import new_incident
from tests.pipelines.test_definitions import _servicenow_sample


@pytest.fixture
def resources(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    drop = tmp_path / "platform"
    drop.mkdir()
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, reports_dir=tmp_path / "reports"
    )
    yield definitions.resources_for(
        settings,
        env={
            "ANALYTICS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
            "ANALYTICS_PLATFORM_DIR": str(drop),
            "ANALYTICS_SERVICENOW_EXPORT": str(_servicenow_sample(tmp_path, incidents=50)),
            "ANALYTICS_SYNTHETIC_INCIDENTS": "300",
            "ANALYTICS_SYNTHETIC_SEED": "5",
        },
    )


async def test_merged_incidents_count_once_in_the_marts_and_report(
    client, resources, team: str, tmp_path: Path
) -> None:
    ids = []
    for _ in range(3):
        created = await client.post("/api/v1/incidents", json=new_incident(team))
        assert created.status_code == 201, created.text
        ids.append(created.json()["incident_id"])
    target, *sources = ids
    merged = await client.post(
        f"/api/v1/incidents/{target}/merge",
        json={"source_incident_ids": sources, "reason": "duplicates"},
    )
    assert merged.status_code == 200, merged.text
    resolved = await client.put(f"/api/v1/incidents/{target}/status", json={"status": "RESOLVED"})
    assert resolved.status_code == 200, resolved.text

    job = definitions.build_definitions(resources).resolve_job_def("reliability_report_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    failed = [
        (c.asset_key.to_user_string(), c.check_name, c.metadata)
        for c in result.get_asset_check_evaluations()
        if not c.passed
    ]
    assert failed == []

    duck = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        facts = duck.execute(
            "select incident_id, status, is_merged, is_unresolved, time_to_resolve_s"
            " from fct_incidents where assigned_team = ? order by incident_id",
            [team],
        ).fetchall()
        by_id = {row[0]: row[1:] for row in facts}
        assert [by_id[s][:3] for s in sources] == [("MERGED", True, False)] * 2
        assert all(by_id[s][3] is None for s in sources)
        assert by_id[target][:3] == ("RESOLVED", False, False)
        target_ttr = by_id[target][3]
        assert target_ttr is not None and target_ttr >= 0

        weekly = duck.execute(
            "select sum(incidents), avg(mttr_mean_s), avg(resolve_slo_attainment)"
            " from rpt_reliability_weekly where team = ? and not is_total",
            [team],
        ).fetchall()[0]
        assert weekly[0] == 1, "the duplicates are not incidents of their own"
        assert weekly[1] == pytest.approx(target_ttr)
        assert weekly[2] == 1.0, "a merged duplicate is not a missed resolution"

        merges = duck.execute(
            "select merges, merge_targets from rpt_merges_weekly where team = ?", [team]
        ).fetchall()
        assert merges == [(2, 1)]
    finally:
        duck.close()

    md = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "## Merged duplicates" in md
    assert f"| {team} | 2 | 1 |" in md.replace("\\-", "-")
    assert "rpt_merges_weekly | merges |" in md


def _row(incident_id: str, status: str, opened: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "title": "checkout down",
        "description": "",
        "severity": "SEV2_HIGH",
        "status": status,
        "affected_services": ["checkout"],
        "assigned_team": "payments",
        "created_by": "test",
        "labels": {},
        "created_at": opened,
        "resolved_at": opened + timedelta(hours=2) if status == "RESOLVED" else None,
        "closed_at": None,
        "model_version": 1,
        "severity_probabilities": dict.fromkeys(SEVERITIES, 0.25),
        "ttr_p10_hours": 1.0,
        "ttr_p50_hours": 2.0,
        "ttr_p90_hours": 3.0,
    }


def test_merged_duplicates_are_neither_labels_nor_scored() -> None:
    """A merged incident has no outcome of its own: not a training example (it would be a
    forever-running, censored one) and not in the calibration of the predictions."""
    opened = datetime(2025, 3, 3, 10, tzinfo=UTC)
    rows = [_row("T", "RESOLVED", opened), _row("D", "MERGED", opened + timedelta(minutes=1))]
    built = history.build_history({"raw.incidents": rows}, as_of=opened + timedelta(days=1))
    assert built.source == ["raw.incidents"]
    assert calibration.scored_from_rows(rows).incident_id == ["T"]
