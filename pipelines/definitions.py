"""The one Dagster code location (``workspace.yaml`` loads this module).

Resources are chosen here, and only here, from the service's settings and the
environment:

- ``DATABASE_URL`` (or the embedded PostgreSQL under ``DATA_DIR``, as ``make run``).
- ``ANALYTICS_WAREHOUSE``: the DuckDB file (default ``DATA_DIR/warehouse.duckdb``).
- ``ANALYTICS_PLATFORM_DIR``: the drop folder (default ``DATA_DIR/platform``).
- ``ANALYTICS_SERVICENOW_EXPORT``: a ServiceNow export to import (default: none).
- ``ANALYTICS_SYNTHETIC_INCIDENTS`` / ``ANALYTICS_SYNTHETIC_SEED``: synthetic history
  for demos (default 0: none).
- ``REPORTS_DIR``: where reliability reports are written (default ``reports``).
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from incident_service.config import Settings, get_settings
from pipelines import assets, sql_assets
from pipelines.jobs import jobs_schedules_sensors
from pipelines.ml.assets import incident_model, model_calibration_report
from pipelines.reports.assets import reliability_report
from pipelines.resources import (
    PostgresResource,
    ReportsResource,
    SourcesResource,
    WarehouseResource,
)


def resources_for(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The resources for this environment; tests pass their own `settings` and `env`."""
    from incident_service.db import resolve_database_url

    env = dict(os.environ) if env is None else env
    data_dir = settings.data_dir
    return {
        "postgres": PostgresResource(
            database_url=resolve_database_url(settings),
            serving_model_name=settings.serving_model_name,
        ),
        "warehouse_db": WarehouseResource(
            path=env.get("ANALYTICS_WAREHOUSE", str(data_dir / "warehouse.duckdb"))
        ),
        "sources": SourcesResource(
            platform_dir=env.get("ANALYTICS_PLATFORM_DIR", str(data_dir / "platform")),
            servicenow_export=env.get("ANALYTICS_SERVICENOW_EXPORT", ""),
            synthetic_incidents=int(env.get("ANALYTICS_SYNTHETIC_INCIDENTS", "0")),
            synthetic_seed=int(env.get("ANALYTICS_SYNTHETIC_SEED", "0")),
        ),
        "reports": ReportsResource(path=str(settings.reports_dir)),
    }


def build_definitions(resources: dict[str, Any]) -> dg.Definitions:
    model_assets, checks = sql_assets.build()
    every_asset: list[dg.AssetsDefinition] = [
        assets.service_tables,
        assets.platform_files,
        assets.servicenow_history,
        assets.synthetic_history,
        assets.seeds,
        *model_assets,
        reliability_report,
        incident_model,
        model_calibration_report,
    ]
    jobs, schedules, sensors = jobs_schedules_sensors()
    return dg.Definitions(
        assets=every_asset,
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=resources,
        # One DuckDB file takes one writer process at a time: steps run in the run's process.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `workspace.yaml` loads, built when Dagster loads the code location rather than
    on import: choosing the resources may start the embedded PostgreSQL."""
    return build_definitions(resources_for(get_settings()))
