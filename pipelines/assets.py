"""Source assets: the service's tables, the drop folder, the ServiceNow export, the
synthetic history and the seeds. Each is a thin caller of a tested plain function."""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext

from pipelines import ingest, platform, servicenow_export, sql_transforms, synthetic, warehouse
from pipelines.resources import (
    WAREHOUSE_POOL,
    PostgresResource,
    SourcesResource,
    WarehouseResource,
)

RAW_SPECS = [
    dg.AssetSpec(
        ["raw", source.name],
        group_name="ingest",
        description=f"`{source.name}` from the service's PostgreSQL, merged incrementally.",
        kinds={"duckdb", "postgres"},
    )
    for source in ingest.SOURCES
]


@dg.multi_asset(specs=RAW_SPECS, name="service_tables", pool=WAREHOUSE_POOL)
def service_tables(
    context: AssetExecutionContext, postgres: PostgresResource, warehouse_db: WarehouseResource
) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    """Incremental ingest of every service table; a missing table is reported, not fatal."""
    with postgres.connect() as pg, warehouse_db.connect() as duck:
        report = ingest.ingest(pg, duck)
        warehouse.ensure_sources(duck)
    for result in report.tables:
        if result.status == "missing":
            context.log.warning("table %s does not exist in PostgreSQL yet", result.table)
        yield dg.MaterializeResult(
            asset_key=["raw", result.table],
            metadata={
                "status": result.status,
                "rows_read": result.read,
                "rows_changed": result.changed,
                "rows_total": result.total,
                "watermark": str(result.watermark) if result.watermark is not None else "",
            },
        )


PLATFORM_SPECS = [
    dg.AssetSpec(
        ["platform", spec.name],
        group_name="platform",
        description=f"`{spec.name}` from the drop folder ({spec.name}.csv or .json).",
        kinds={"duckdb", "csv"},
    )
    for spec in platform.DROP_FILES
]


@dg.multi_asset(specs=PLATFORM_SPECS, name="platform_files", pool=WAREHOUSE_POOL)
def platform_files(
    sources: SourcesResource, warehouse_db: WarehouseResource
) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    """The drop folder's files, each replacing its table (absent file: empty table)."""
    frames = platform.read_drop_folder(sources.platform_path)
    with warehouse_db.connect() as duck:
        for name, frame in frames.items():
            qualified = f"platform.{name}"
            duck.execute(f"drop table if exists {qualified}")
            rows = warehouse.replace_table(duck, qualified, frame) if frame is not None else 0
            warehouse.ensure_sources(duck)
            yield dg.MaterializeResult(
                asset_key=["platform", name],
                metadata={"rows": rows, "file_present": frame is not None},
            )


@dg.asset(
    key=["servicenow", "incident_events"],
    group_name="servicenow",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="The ServiceNow incident event-log export, as exported (all text).",
)
def servicenow_history(
    sources: SourcesResource, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    frame = (
        servicenow_export.read_export(Path(sources.servicenow_export))
        if sources.servicenow_export
        else None
    )
    with warehouse_db.connect() as duck:
        duck.execute("drop table if exists servicenow.incident_events")
        if frame is not None:
            warehouse.replace_table(duck, "servicenow.incident_events", frame)
        warehouse.ensure_sources(duck)
    incidents = frame["number"].n_unique() if frame is not None else 0
    return dg.MaterializeResult(
        metadata={
            "rows": frame.height if frame is not None else 0,
            "incidents": incidents,
            "export": sources.servicenow_export or "(none configured)",
        }
    )


SYNTHETIC_SPECS = [
    dg.AssetSpec(["synthetic", name], group_name="synthetic", kinds={"duckdb", "polars"})
    for name in ("teams", "services", "deploys", "incidents")
]


@dg.multi_asset(specs=SYNTHETIC_SPECS, name="synthetic_history", pool=WAREHOUSE_POOL)
def synthetic_history(
    sources: SourcesResource, warehouse_db: WarehouseResource
) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    """Seeded synthetic history (``synthetic_incidents`` of them; 0 leaves it empty)."""
    history = synthetic.generate_history(
        sources.synthetic_incidents, seed=sources.synthetic_seed, days=sources.synthetic_days
    )
    frames: dict[str, pl.DataFrame] = {
        "teams": history.teams,
        "services": history.services,
        "deploys": history.deploys,
        "incidents": history.incidents,
    }
    with warehouse_db.connect() as duck:
        for name, frame in frames.items():
            keep = frame if sources.synthetic_incidents else frame.clear()
            warehouse.replace_table(duck, f"synthetic.{name}", keep)
            yield dg.MaterializeResult(
                asset_key=["synthetic", name], metadata={"rows": keep.height}
            )


@dg.asset(
    key=["seeds", "slo_targets"], group_name="seeds", kinds={"duckdb", "csv"}, pool=WAREHOUSE_POOL
)
def seeds(warehouse_db: WarehouseResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """SLO targets per severity (dbt_like_sql/seeds/slo_targets.csv): edit it to change them."""
    with warehouse_db.connect() as duck:
        loaded = sql_transforms.load_seeds(duck)
    return dg.MaterializeResult(metadata={"seeds": ", ".join(loaded)})
