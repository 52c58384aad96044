"""The reliability report asset: built from the marts, written to the reports folder."""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
import dagster as dg

from pipelines.reports import reliability
from pipelines.resources import WAREHOUSE_POOL, ReportsResource, WarehouseResource


@dg.asset(
    deps=[
        "rpt_reliability_weekly",
        "rpt_oncall_load_weekly",
        "rpt_automated_response_effectiveness",
        "rpt_merges_weekly",
    ],
    group_name="reports",
    kinds={"html", "markdown"},
    pool=WAREHOUSE_POOL,
)
def reliability_report(
    warehouse_db: WarehouseResource, reports: ReportsResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The reliability report (HTML with charts + Markdown), over the last 12 weeks."""
    with warehouse_db.connect() as duck:
        report = reliability.build(duck)
    paths = reliability.write(report, reports.folder)
    return dg.MaterializeResult(
        metadata={
            "title": report.title,
            "weeks": report.weeks,
            "files": ", ".join(p.name for p in paths),
            "summary": dg.MetadataValue.md(report.markdown[:20000]),
        }
    )
