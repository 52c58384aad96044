"""Jobs, schedules and the post-mortem sensor."""

from __future__ import annotations

import dagster as dg

from pipelines.postmortem_sensor import postmortem_job, resolved_incidents_sensor

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("ingest", "seeds", "staging", "intermediate", "marts"),
    description="Pull what changed in PostgreSQL and rebuild the SQL models.",
)

reliability_report_job = dg.define_asset_job(
    "reliability_report_job",
    # The served model trains and is checked on schedules of its own (below).
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("models"),
    description="Every source, every model, then the reliability report (also on demand).",
)

# Fresh service tables and synthetic history first (one run, one DuckDB writer), then train.
incident_model_job = dg.define_asset_job(
    "incident_model_job",
    selection=dg.AssetSelection.groups("ingest", "synthetic")
    | dg.AssetSelection.assets(["incident_model"]),
    description="Ingest, then train the served model; registered, promoted only if better.",
)

model_calibration_job = dg.define_asset_job(
    "model_calibration_job",
    selection=dg.AssetSelection.assets(["model_calibration_report"]),
    description="The served model's predictions against what happened, with drift flags.",
)


def jobs_schedules_sensors() -> tuple[
    list[dg.UnresolvedAssetJobDefinition | dg.JobDefinition],
    list[dg.ScheduleDefinition],
    list[dg.SensorDefinition],
]:
    schedules = [
        dg.ScheduleDefinition(
            name="ingest_every_5_minutes",
            job=ingest_job,
            cron_schedule="*/5 * * * *",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        ),
        dg.ScheduleDefinition(
            name="weekly_reliability_report",
            job=reliability_report_job,
            cron_schedule="0 6 * * 1",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        ),
        # Before the weekly reliability report; a run without enough history is a no-op.
        dg.ScheduleDefinition(
            name="weekly_incident_model",
            job=incident_model_job,
            cron_schedule="0 4 * * 1",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        ),
        dg.ScheduleDefinition(
            name="daily_model_calibration_report",
            job=model_calibration_job,
            cron_schedule="30 6 * * *",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        ),
    ]
    return (
        [
            ingest_job,
            reliability_report_job,
            postmortem_job,
            incident_model_job,
            model_calibration_job,
        ],
        schedules,
        [resolved_incidents_sensor],
    )
