"""Incremental marts: a refresh after new and updated incidents rebuilds only the weeks
they touch, and leaves exactly what a full rebuild gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest

from pipelines import ingest, sql_transforms, synthetic, warehouse

MART = "rpt_reliability_weekly"
KEY = ("team", "service", "week")
START = datetime(2025, 1, 6, tzinfo=UTC)
DAYS = 140


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    conn = warehouse.connect(":memory:")
    history = synthetic.generate_history(4000, seed=5, start=START, days=DAYS)
    for name in ("teams", "services", "deploys", "incidents"):
        warehouse.replace_table(conn, f"synthetic.{name}", getattr(history, name))
    warehouse.ensure_sources(conn)
    # The service's own incidents, in the last six weeks of the history.
    service = synthetic.generate_history(
        1500, seed=6, start=START + timedelta(days=DAYS - 42), days=42, id_prefix="SVC"
    ).incidents
    rows = synthetic.as_service_rows(service, datetime(2026, 1, 1, tzinfo=UTC))
    ingest.merge(conn, "incidents", rows, "incident_id")
    sql_transforms.run_all(conn)
    yield conn
    conn.close()


def _refresh(duck: duckdb.DuckDBPyConnection) -> sql_transforms.Refresh:
    models = sql_transforms.discover()
    sql_transforms.load_seeds(duck)
    return sql_transforms.refresh(duck, models[MART], models)


def _differences(duck: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rows of the mart that differ from a full rebuild of it (floats to 1e-9)."""
    models = sql_transforms.discover()
    duck.execute(f"create or replace temp table _full as {models[MART].sql}")
    mine = duck.sql(f"select * from {MART}").pl()
    full = duck.sql("select * from _full").pl()
    assert mine.height == full.height
    joined = full.join(mine, on=list(KEY), how="full", suffix="_inc", nulls_equal=True)
    bad = pl.lit(False)
    for column in full.columns:
        if column in KEY:
            continue
        left, right = pl.col(column), pl.col(f"{column}_inc")
        if full[column].dtype.is_float():
            differs = (left - right).abs() > 1e-9 * (1 + left.abs())
        else:
            differs = left != right
        bad = bad | differs.fill_null(True) & ~(left.is_null() & right.is_null())
    return joined.filter(bad)


def test_refresh_rebuilds_only_touched_weeks_and_equals_a_full_build(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    assert _refresh(duck).mode == "unchanged"
    service = duck.sql("select * from raw.incidents order by incident_id").pl()
    later = datetime(2026, 1, 2, tzinfo=UTC)
    # Updates: acknowledge and resolve open incidents, move some to another service,
    # severity and engineer; plus new incidents in the last two weeks.
    open_ones = service.filter(pl.col("acknowledged_at").is_null()).head(60)
    updated = pl.concat(
        [
            open_ones.with_columns(
                (pl.col("created_at") + pl.duration(minutes=3)).alias("acknowledged_at"),
                (pl.col("created_at") + pl.duration(hours=2)).alias("resolved_at"),
                pl.lit("RESOLVED").alias("status"),
            ),
            service.slice(100, 80).with_columns(
                pl.lit('["svc-00"]').alias("affected_services"),
                pl.lit("SEV1_CRITICAL").alias("severity"),
                pl.lit(None, pl.String).alias("assignee"),
            ),
        ]
    ).with_columns(
        (pl.lit(later) + pl.duration(microseconds=pl.int_range(pl.len()))).alias("updated_at")
    )
    new = synthetic.as_service_rows(
        synthetic.generate_history(
            300, seed=7, start=START + timedelta(days=DAYS - 14), days=14, id_prefix="NEW"
        ).incidents,
        later + timedelta(seconds=1),
    )
    changed = ingest.merge(duck, "incidents", pl.concat([updated, new]), "incident_id")
    assert changed == updated.height + new.height

    result = _refresh(duck)
    assert result.mode == "incremental"
    all_weeks = duck.execute(f"select count(distinct week) from {MART}").fetchall()[0][0]
    # The service's six weeks (and the one after), not the history's twenty.
    assert 0 < len(result.weeks) <= 8 < all_weeks
    assert _differences(duck).height == 0
    assert _refresh(duck).mode == "unchanged"


def test_a_late_commit_below_the_newest_stamp_still_lands(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    # The ingest says where it reads next: a transaction open since then may still
    # commit rows stamped before the newest the last refresh saw.
    ingest.ensure_meta(duck)
    held_back = datetime(2025, 12, 31, tzinfo=UTC)
    duck.execute(
        "insert or replace into meta.ingest_state values"
        " ('incidents', 'updated_at', ?, null, 0, now())",
        [held_back],
    )
    _refresh(duck)  # the watermark is now the ingest's, not the newest stamp
    late = synthetic.as_service_rows(
        synthetic.generate_history(
            50, seed=8, start=START + timedelta(days=DAYS - 30), days=7, id_prefix="LATE"
        ).incidents,
        held_back + timedelta(hours=1),  # older than every stamp already ingested
    )
    assert ingest.merge(duck, "incidents", late, "incident_id") == late.height
    result = _refresh(duck)
    assert result.mode == "incremental"
    assert _differences(duck).height == 0


def test_changed_seed_or_sql_rebuilds_in_full(duck: duckdb.DuckDBPyConnection) -> None:
    slo = duck.sql("select * from seeds.slo_targets").pl()
    warehouse.replace_table(duck, "seeds.slo_targets", slo.with_columns(pl.col("ack_target_s") * 2))
    models = sql_transforms.discover()
    assert sql_transforms.refresh(duck, models[MART], models).mode == "full"
    assert _differences(duck).height == 0
    # The same content written again is no change.
    warehouse.replace_table(duck, "seeds.slo_targets", slo.with_columns(pl.col("ack_target_s") * 2))
    assert sql_transforms.refresh(duck, models[MART], models).mode == "unchanged"
    assert sql_transforms.refresh(duck, models[MART], models, full_refresh=True).mode == "full"


def test_scoped_sql_inlines_views_down_to_int_incidents() -> None:
    models = sql_transforms.discover()
    scoped = sql_transforms.scoped_sql(models, MART, "created_at >= timestamptz '2025-01-01'")
    # fct_incidents is inlined; int_incidents is read, restricted; nothing else changes.
    assert "FROM fct_incidents" not in scoped and ") AS fct_incidents" in scoped
    assert "(SELECT * FROM int_incidents WHERE created_at >= CAST(" in scoped
    assert "stg_service__timeline" in scoped
