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
    selection=dg.AssetSelection.all(),
    description="Every source, every model, then the reliability report (also on demand).",
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
    ]
    return (
        [ingest_job, reliability_report_job, postmortem_job],
        schedules,
        [resolved_incidents_sensor],
    )
