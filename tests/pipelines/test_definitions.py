"""The Dagster code location: it loads, and the whole graph materializes on small data
(synthetic history, the ServiceNow sample, the drop folder and the service's own tables)
with every asset check passing; the post-mortem sensor and job work end to end."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import psycopg
import pytest

from incident_service.config import Settings
from pipelines import definitions
from pipelines.postmortem_sensor import postmortem_job, resolved_incidents_sensor
from pipelines.resources import WAREHOUSE_POOL
from testkit.databases import ROOT
from tests.pipelines.factories import insert_incident

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

EXPORT = (
    Path(__file__).resolve().parents[1]
    / "data"
    / ("servicenow_incident_events_until_2016-05-01.csv.zip")
)


ASSET_KEYS = [
    "fct_incidents",
    "incident_model",
    "int_incidents",
    "int_servicenow__incidents",
    "int_status_intervals",
    "model_calibration_report",
    "platform/alerts",
    "platform/deploys",
    "platform/services",
    "platform/teams",
    "raw/alert_groups",
    "raw/alerts",
    "raw/automated_responses",
    "raw/change_events",
    "raw/escalation_notifications",
    "raw/follow_ups",
    "raw/incident_escalations",
    "raw/incident_role_assignments",
    "raw/incident_timeline",
    "raw/incident_updates",
    "raw/incidents",
    "raw/integration_links",
    "raw/integration_syncs",
    "raw/update_reminders",
    "reliability_report",
    "rpt_automated_response_effectiveness",
    "rpt_merges_weekly",
    "rpt_oncall_load_weekly",
    "rpt_reliability_weekly",
    "rpt_responder_record_weekly",
    "seeds/slo_targets",
    "servicenow/incident_events",
    "stg_platform__deploys",
    "stg_platform__services",
    "stg_platform__teams",
    "stg_service__automated_responses",
    "stg_service__follow_ups",
    "stg_service__incidents",
    "stg_service__role_assignments",
    "stg_service__stakeholder_updates",
    "stg_service__timeline",
    "stg_service__update_reminders",
    "stg_servicenow__incident_events",
    "stg_synthetic__incidents",
    "synthetic/deploys",
    "synthetic/incidents",
    "synthetic/services",
    "synthetic/teams",
]


def _defs(tmp_path: Path) -> dg.Definitions:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:5432/unused", data_dir=tmp_path
    )
    return definitions.build_definitions(definitions.resources_for(settings, env={}))


def test_importing_the_code_location_starts_no_database(tmp_path: Path) -> None:
    """Dagster builds the definitions when it loads the location; importing the module
    (the CLI, a test, a notebook) chooses no resources, so no embedded PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    subprocess.run(
        [sys.executable, "-c", "import pipelines.definitions"],
        cwd=ROOT, env={**env, "DATA_DIR": str(tmp_path)}, check=True, timeout=120,
    )  # fmt: skip
    assert not (tmp_path / "pg").exists()


def test_asset_keys(tmp_path: Path) -> None:
    """The asset keys are the warehouse's and the UI's names: a change here is deliberate."""
    graph = _defs(tmp_path).resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == ASSET_KEYS


def test_every_step_that_opens_the_warehouse_is_in_its_pool(tmp_path: Path) -> None:
    """`pipelines/dagster.yaml` gives the pool one slot, held by a run for its whole life;
    a step that opened the warehouse outside it would let its run start beside another
    and collide on the file lock. Asset jobs and ad hoc materializations alike."""
    steps = {
        (job.name, node.name): node.definition.pool
        for job in _defs(tmp_path).resolve_all_job_defs()
        for node in job.nodes_in_topological_order
        if "warehouse_db" in node.definition.required_resource_keys
    }
    assert {job for job, _ in steps} == {
        "__ASSET_JOB",
        "ingest_job",
        "reliability_report_job",
        "incident_model_job",
    }
    assert set(steps.values()) == {WAREHOUSE_POOL}


def test_definitions_load(tmp_path: Path) -> None:
    defs = _defs(tmp_path)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw/incidents",
        "raw/alerts",
        "servicenow/incident_events",
        "fct_incidents",
        "rpt_reliability_weekly",
        "reliability_report",
    } <= keys
    # Dependencies come from the SQL: fct_incidents reads these models and sources.
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("fct_incidents")).parent_keys}
    assert {
        "int_incidents",
        "int_status_intervals",
        "stg_service__timeline",
        "seeds/slo_targets",
    } <= parents
    schedules = {
        s.name: s.cron_schedule
        for s in defs.schedules or []
        if isinstance(s, dg.ScheduleDefinition)
    }
    assert schedules == {
        "ingest_every_5_minutes": "*/5 * * * *",
        "weekly_reliability_report": "0 6 * * 1",
        "weekly_incident_model": "0 4 * * 1",
        "daily_model_calibration_report": "30 6 * * *",
    }
    assert [s.name for s in defs.sensors or []] == ["resolved_incidents_sensor"]
    assert len(list(graph.asset_check_keys)) >= 12


def _servicenow_sample(tmp_path: Path, incidents: int = 600) -> Path:
    with zipfile.ZipFile(EXPORT) as archive:
        data = archive.read(archive.namelist()[0])
    frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    keep = frame["number"].unique(maintain_order=True).head(incidents)
    sample = tmp_path / "servicenow_sample.csv"
    frame.filter(pl.col("number").is_in(keep.implode())).write_csv(sample)
    return sample


@pytest.fixture
def resources(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    drop = tmp_path / "platform"
    drop.mkdir()
    (drop / "teams.csv").write_text("team,utc_offset_h\nplatform-team,1\n")
    (drop / "services.csv").write_text(
        "service,team,tier,depends_on\ncheckout_service,platform-team,1,payments_service\n"
    )
    (drop / "deploys.csv").write_text(
        "deploy_id,service,deployed_at,change_type\nD-1,checkout_service,2025-01-07T10:00:00Z,deploy\n"
    )
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, reports_dir=tmp_path / "reports"
    )
    yield definitions.resources_for(
        settings,
        env={
            "ANALYTICS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
            "ANALYTICS_PLATFORM_DIR": str(drop),
            "ANALYTICS_SERVICENOW_EXPORT": str(_servicenow_sample(tmp_path)),
            "ANALYTICS_SYNTHETIC_INCIDENTS": "3000",
            "ANALYTICS_SYNTHETIC_SEED": "5",
        },
    )


def test_full_materialization_passes_every_check(
    resources, database_url: str, team: str, tmp_path: Path
) -> None:
    with psycopg.connect(database_url, autocommit=True) as pg:
        ids = [
            insert_incident(pg, team, created_at=datetime.now(UTC) - timedelta(days=d))
            for d in (1, 2, 3)
        ]
    defs = definitions.build_definitions(resources)
    job = defs.resolve_job_def("reliability_report_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = result.get_asset_check_evaluations()
    failed = [
        (c.asset_key.to_user_string(), c.check_name, c.metadata) for c in checks if not c.passed
    ]
    assert failed == []
    assert len(checks) >= 20

    duck = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        sources = dict(
            duck.execute("select source_system, count(*) from fct_incidents group by 1").fetchall()
        )
        assert sources["synthetic"] == 3000
        assert sources["servicenow"] == 600
        assert sources["service"] >= 3
        mine = duck.execute(
            "select count(*), avg(time_to_acknowledge_s) from fct_incidents where incident_id in"
            " (?, ?, ?)",
            ids,
        ).fetchall()[0]
        assert mine == (3, 180.0)
        catalog = duck.execute(
            "select tier, depends_on from stg_platform__services where service = 'checkout_service'"
        ).fetchall()
        assert catalog == [(1, ["payments_service"])]
    finally:
        duck.close()

    reports = sorted(p.suffix for p in (tmp_path / "reports").iterdir())
    assert reports == [".html", ".md"]
    md = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "## Metric definitions" in md and "mtta_p50_s" in md and "quantile_cont" in md


def test_sensor_requests_and_job_stores_the_postmortem(
    resources, database_url: str, team: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as pg:
        incident_id = insert_incident(pg, team)
    context = dg.build_sensor_context(resources={"postgres": resources["postgres"]})
    evaluation = resolved_incidents_sensor.evaluate_tick(context)
    requests = {r.tags["incident_id"]: r for r in evaluation.run_requests or []}
    assert incident_id in requests
    run = postmortem_job.execute_in_process(
        run_config=requests[incident_id].run_config,
        resources={"postgres": resources["postgres"]},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert run.success
    with psycopg.connect(database_url) as pg:
        row = pg.execute(
            "select generated_by, jsonb_array_length(document->'timeline') from postmortems"
            " where incident_id = %s",
            (incident_id,),
        ).fetchone()
    assert row == ("dagster", 3)
    again = resolved_incidents_sensor.evaluate_tick(context)
    assert incident_id not in {r.tags["incident_id"] for r in again.run_requests or []}


def test_model_assets_use_the_name_the_api_serves(tmp_path: Path) -> None:
    """SERVING_MODEL_NAME reaches the Dagster resources, so the model that the weekly job
    trains and the calibration report reads is the one the API scores with."""
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:5432/unused",
        data_dir=tmp_path,
        serving_model_name="payments-model",
    )
    resources = definitions.resources_for(settings, env={})
    assert resources["postgres"].serving_model_name == "payments-model"
