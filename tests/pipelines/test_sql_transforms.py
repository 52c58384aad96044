"""The SQL models: dependencies parsed from the SQL, every data test passing on the
synthetic history and the ServiceNow export, metrics computed as defined, and the
Polars version of the weekly mart agreeing with the SQL one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import marts_polars, servicenow_export, sql_transforms, synthetic, warehouse
from tests.pipelines.test_definitions import EXPORT

TESTS = sql_transforms.discover_tests()


@pytest.fixture(scope="module")
def built() -> Iterator[duckdb.DuckDBPyConnection]:
    duck = warehouse.connect(":memory:")
    history = synthetic.generate_history(5000, seed=2, days=90)
    for name in ("teams", "services", "deploys", "incidents"):
        warehouse.replace_table(duck, f"synthetic.{name}", getattr(history, name))
    warehouse.replace_table(
        duck, "servicenow.incident_events", servicenow_export.read_export(EXPORT)
    )
    warehouse.ensure_sources(duck)
    sql_transforms.run_all(duck)
    yield duck
    duck.close()


def test_dependencies_are_read_from_the_sql() -> None:
    models = sql_transforms.discover()
    assert set(models["fct_incidents"].depends_on) == {
        "int_incidents",
        "int_status_intervals",
        "stg_service__timeline",
        "stg_service__automated_responses",
        "stg_platform__teams",
    }
    assert models["fct_incidents"].sources == ("seeds.slo_targets",)
    assert models["stg_service__incidents"].sources == ("raw.incidents",)
    order = sql_transforms.run_order(models)
    for model in models.values():
        assert all(order.index(dep) < order.index(model.name) for dep in model.depends_on)


def test_unknown_reference_is_refused(tmp_path: Path) -> None:
    for layer in sql_transforms.LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "marts" / "fct_x.sql").write_text(
        "with a as (select * from int_missing)\nselect * from a\n"
    )
    with pytest.raises(sql_transforms.SqlModelError, match="int_missing"):
        sql_transforms.discover(tmp_path)


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_data_test_passes(built: duckdb.DuckDBPyConnection, test: sql_transforms.DataTest) -> None:
    result = sql_transforms.run_test(built, test)
    assert result.passed, result.sample


def test_a_data_test_catches_a_bad_row(built: duckdb.DuckDBPyConnection) -> None:
    unique = next(t for t in TESTS if t.name == "fct_incidents__unique_incident_id")
    order = next(t for t in TESTS if t.name == "fct_incidents__timestamps_in_order")
    built.execute("create table _backup as select * from synthetic.incidents")
    try:
        built.execute("insert into synthetic.incidents select * from synthetic.incidents limit 1")
        built.execute(
            "update synthetic.incidents set resolved_at = created_at - interval 1 hour"
            " where incident_id = (select min(incident_id) from synthetic.incidents"
            " where resolved_at is not null)"
        )
        assert sql_transforms.run_test(built, unique).failing_rows == 1
        assert sql_transforms.run_test(built, order).failing_rows >= 1
    finally:
        built.execute("create or replace table synthetic.incidents as select * from _backup")
        built.execute("drop table _backup")
    assert sql_transforms.run_test(built, unique).passed


def test_servicenow_incident_mapped_from_its_events(built: duckdb.DuckDBPyConnection) -> None:
    row = built.execute(
        "select severity, status, assigned_team, created_at, acknowledged_at, resolved_at,"
        " closed_at, time_to_resolve_s from fct_incidents where incident_id = 'INC0000045'"
    ).fetchall()
    utc = UTC
    assert row == [
        (
            "SEV3_MEDIUM",
            "CLOSED",
            "Group 56",
            datetime(2016, 2, 29, 1, 16, tzinfo=utc),
            datetime(2016, 2, 29, 8, 53, tzinfo=utc),
            datetime(2016, 2, 29, 11, 29, tzinfo=utc),
            datetime(2016, 3, 5, 12, 0, tzinfo=utc),
            (10 * 60 + 13) * 60.0,
        )
    ]
    # Censored at the export's cut-off: still open then, so no resolve time.
    censored = built.execute(
        "select count(*) from fct_incidents where source_system = 'servicenow'"
        " and resolved_at is null"
    ).fetchall()[0][0]
    assert censored > 0


def test_weekly_metrics_on_hand_made_incidents() -> None:
    duck = warehouse.connect(":memory:")
    t0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # a Monday, working hours
    rows = [  # (id, severity, ack after s, resolve after s)
        ("A", "SEV1_CRITICAL", 60, 3600),
        ("B", "SEV1_CRITICAL", 600, 7200),
        ("C", "SEV2_HIGH", 120, None),
        ("D", "SEV2_HIGH", None, None),
    ]
    frame = pl.DataFrame(
        {
            "incident_id": [r[0] for r in rows],
            "title": "t",
            "severity": [r[1] for r in rows],
            "status": "RESOLVED",
            "service": "svc",
            "affected_services": [["svc"]] * 4,
            "assigned_team": "team",
            "assignee": ["ann", "ann", "bob", None],
            "created_by": "x",
            "created_at": [t0] * 4,
        }
    )
    frame = frame.with_columns(
        pl.Series(
            "acknowledged_at", [None if r[2] is None else t0.timestamp() + r[2] for r in rows]
        ).map_elements(
            lambda s: datetime.fromtimestamp(s, UTC), return_dtype=pl.Datetime("us", "UTC")
        ),
        pl.Series(
            "resolved_at", [None if r[3] is None else t0.timestamp() + r[3] for r in rows]
        ).map_elements(
            lambda s: datetime.fromtimestamp(s, UTC), return_dtype=pl.Datetime("us", "UTC")
        ),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("closed_at"),
        pl.col("created_at").alias("updated_at"),
        pl.lit(0).alias("reopen_count"),
        pl.lit(None, pl.String).alias("caused_by_deploy_id"),
    )
    warehouse.replace_table(duck, "synthetic.incidents", frame)
    warehouse.ensure_sources(duck)
    sql_transforms.run_all(duck)
    got = duck.execute(
        "select incidents, sev1_incidents, sev2_incidents, mtta_mean_s, mtta_p50_s, mttr_mean_s,"
        " ack_slo_attainment, resolve_slo_attainment, repeat_incidents, after_hours_pages,"
        " oncall_engineers from rpt_reliability_weekly where not is_total"
    ).fetchall()
    # SLO (seeds): SEV1 ack 300 s / resolve 4 h; SEV2 ack 900 s / resolve 12 h.
    # ack met: A (60<=300), C (120<=900) -> 2/4; resolve met: A, B -> 2/4. Repeats: B, C, D.
    assert got == [(4, 2, 2, 260.0, 120.0, 5400.0, 0.5, 0.5, 3, 0, 2)]
    duck.close()


def test_polars_mart_agrees_with_the_sql(built: duckdb.DuckDBPyConnection) -> None:
    synthetic_only = (
        built.sql(
            "select * from rpt_reliability_weekly where not is_total and team like 'team-%'"
            " order by team, service, week"
        )
        .pl()
        .drop("is_total")
    )
    incidents = built.sql("select * from synthetic.incidents").pl().lazy()
    teams = built.sql("select * from synthetic.teams").pl().lazy()
    slo = built.sql("select * from seeds.slo_targets").pl().lazy()
    mine = marts_polars.reliability_weekly(marts_polars.incident_facts(incidents, teams, slo))
    mine_df = mine.collect().sort("team", "service", "week").select(synthetic_only.columns)
    assert mine_df.height == synthetic_only.height
    for column in synthetic_only.columns:
        left, right = synthetic_only[column], mine_df[column]
        if left.dtype.is_float():
            assert ((left - right).abs().fill_null(0) < 1e-6).all(), column
            assert (left.is_null() == right.is_null()).all(), column
        else:
            assert left.cast(right.dtype).equals(right), column


def _aggregates(node: dict[str, object]) -> Iterator[list[str]]:
    """The aggregate lists of every group-by in a JSON plan."""
    info = node.get("extra_info")
    if str(node.get("name", "")).endswith("GROUP_BY") and isinstance(info, dict):
        found = info.get("Aggregates", [])
        yield [found] if isinstance(found, str) else list(found)
    children = node.get("children", [])
    assert isinstance(children, list)
    for child in children:
        yield from _aggregates(child)


def test_each_measure_is_kept_once_for_its_quantiles(built: duckdb.DuckDBPyConnection) -> None:
    """p50 and p90 of a measure are elements of one `quantile_cont(x, [0.5, 0.9])`: the
    plan must hold one quantile aggregate per measure in each grouping set, not one per
    quantile (the full build's time depends on it; docs/performance.md)."""
    mart = sql_transforms.discover()["rpt_reliability_weekly"]
    plan = json.loads(built.execute(f"explain (format json) {mart.sql}").fetchall()[0][1])
    quantiles = [
        sum(a.startswith("quantile_cont(") for a in aggs)
        for node in plan
        for aggs in _aggregates(node)
    ]
    assert sorted(q for q in quantiles if q) == [2, 2]  # (team, service, week) and (week)
