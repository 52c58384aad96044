"""Analytics benchmark: the weekly reliability mart over 10 million synthetic incidents
in DuckDB (the SQL models, end to end: a full build, and the incremental refresh after
100,000 new or updated service incidents spread over the last weeks), the same
computation in Polars and in PostgreSQL, and the incremental ingest of 100,000 new
incidents from PostgreSQL.

Every time is a median over repeats, with the worst (p99 of so few runs is the max).
Ratios are against a floor measured in the same run on the same machine: a one-pass
DuckDB group-by over the same rows for the marts, and a bare COPY of the new rows out of
PostgreSQL for the ingest. After the incremental refreshes the mart is compared with a
full rebuild: they must agree.

    BENCH=analytics make bench
    python -m benchmarks.analytics --incidents 1000000 --repeat 3   # a quicker look
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import psycopg

from benchmarks.common import progress, scratch_database
from pipelines import ingest, marts_polars, sql_transforms, synthetic, warehouse

MART_CHAIN = (
    "stg_synthetic__incidents",
    "int_incidents",
    "fct_incidents",
    "rpt_reliability_weekly",
)

PG_WEEKLY = """
with facts as (
    select
        i.*,
        extract(epoch from acknowledged_at - created_at) as tta,
        extract(epoch from resolved_at - created_at) as ttr,
        date_trunc('week', created_at) as week,
        created_at + make_interval(hours => coalesce(t.utc_offset_h, 0)) as local_at,
        s.ack_target_s, s.resolve_target_s
    from bench_incidents i
    left join bench_teams t on t.team = i.assigned_team
    left join bench_slo s on s.severity = i.severity
), flagged as (
    select *,
        extract(hour from local_at) not between 9 and 17
            or extract(isodow from local_at) >= 6 as is_after_hours,
        coalesce(created_at - lag(created_at) over (partition by service order by created_at)
            <= interval '7 days', false) as is_repeat,
        coalesce(tta <= ack_target_s, false) as met_ack,
        coalesce(ttr <= resolve_target_s, false) as met_resolve
    from facts
)
select assigned_team, service, week, count(*) as incidents,
    count(*) filter (where severity = 'SEV1_CRITICAL') as sev1,
    count(*) filter (where severity = 'SEV2_HIGH') as sev2,
    count(*) filter (where severity = 'SEV3_MEDIUM') as sev3,
    count(*) filter (where severity = 'SEV4_LOW') as sev4,
    avg(tta), percentile_cont(0.5) within group (order by tta),
    percentile_cont(0.9) within group (order by tta),
    avg(ttr), percentile_cont(0.5) within group (order by ttr),
    percentile_cont(0.9) within group (order by ttr),
    avg(met_ack::int), avg(met_resolve::int),
    count(*) filter (where is_repeat), count(*) filter (where is_after_hours),
    count(distinct assignee)
from flagged
group by assigned_team, service, week
"""


def _timed(
    fn: Callable[[], object], repeat: int, label: str, cpu: list[float] | None = None
) -> list[float]:
    """Wall times of `repeat` runs; `cpu`, if given, gets this process's CPU time of each
    (DuckDB's threads included): on a shared machine it moves far less than wall time."""
    times = []
    for i in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        used = time.process_time() - start_cpu
        if cpu is not None:
            cpu.append(used)
        progress(f"{label} run {i + 1}/{repeat}: {times[-1]:.2f} s (CPU {used:.2f} s)")
    return times


def _row(name: str, times: list[float], floor: float) -> str:
    med = statistics.median(times)
    return f"  {name:<44} {med:9.2f} s  {max(times):9.2f} s  {med / floor:8.1f}x"


SERVICE_BASE = 200_000  # service incidents in raw.incidents, over the last 8 weeks
CHANGE = 100_000  # per incremental round: half updates of those, half new


def bench_marts(n: int, repeat: int, with_postgres: bool) -> list[str]:
    progress(f"generating {n:,} synthetic incidents")
    start = time.perf_counter()
    history = synthetic.generate_history(n, seed=42, days=730)
    incidents = history.incidents.drop("description", "true_resolve_s", "censored")
    gen_s = time.perf_counter() - start
    duck = warehouse.connect(":memory:")
    for name, frame in (
        ("teams", history.teams),
        ("services", history.services),
        ("deploys", history.deploys),
        ("incidents", incidents),
    ):
        warehouse.replace_table(duck, f"synthetic.{name}", frame)
    warehouse.ensure_sources(duck)
    # The service's own incidents, as the ingest lands them, in the history's last weeks.
    end = history.as_of
    stamp = datetime(2030, 1, 1, tzinfo=UTC)  # after every generated stamp
    service = synthetic.generate_history(
        SERVICE_BASE, seed=43, start=end - timedelta(days=56), days=56, id_prefix="SVC"
    ).incidents
    ingest.merge(duck, "incidents", synthetic.as_service_rows(service, stamp), "incident_id")
    progress("building every model once (warm-up, not timed)")
    sql_transforms.run_all(duck)
    models = sql_transforms.discover()
    mart = models["rpt_reliability_weekly"]

    def floor() -> None:
        duck.execute(
            "select assigned_team, service, floor(epoch(created_at) / 604800), count(*)"
            " from synthetic.incidents group by all"
        ).fetchall()

    def duckdb_full() -> None:
        for name in MART_CHAIN[:-1]:
            sql_transforms.materialize(duck, models[name], models)
        assert sql_transforms.refresh(duck, mart, models, full_refresh=True).mode == "full"

    floor_cpu: list[float] = []
    duck_cpu: list[float] = []
    floor_times = _timed(floor, repeat, "floor (DuckDB one-pass group-by)", floor_cpu)
    duck_times = _timed(duckdb_full, repeat, "DuckDB SQL models, full build", duck_cpu)
    weekly_rows = duck.execute("select count(*) from rpt_reliability_weekly").fetchall()[0][0]
    refresh_times, weeks_rebuilt = [], []
    for r in range(repeat):
        stamp += timedelta(hours=1)
        changes = _changes(duck, service, end, stamp, seed=100 + r)
        assert ingest.merge(duck, "incidents", changes, "incident_id") == CHANGE
        begin = time.perf_counter()
        done = sql_transforms.refresh(duck, mart, models)
        refresh_times.append(time.perf_counter() - begin)
        weeks_rebuilt.append(len(done.weeks))
        progress(
            f"incremental refresh {r + 1}/{repeat}: {refresh_times[-1]:.2f} s"
            f" ({done.mode}, {len(done.weeks)} weeks)"
        )
    differing = _differs_from_full_build(duck, mart.sql)

    slo = pl.read_csv(sql_transforms.SQL_ROOT / "seeds" / "slo_targets.csv")
    lazy = incidents.lazy()

    def polars_mart() -> None:
        marts_polars.reliability_weekly(
            marts_polars.incident_facts(lazy, history.teams.lazy(), slo.lazy())
        ).collect()

    polars_times = _timed(polars_mart, repeat, "Polars")
    floor_s = statistics.median(floor_times)
    lines = [
        f"weekly reliability mart over {n:,} synthetic + {SERVICE_BASE:,} service incidents"
        f" ({weekly_rows:,} weekly rows); generating them took {gen_s:.1f} s",
        f"  {'':<44} {'median':>11}  {'worst':>11}  {'vs floor':>9}",
        _row("floor: DuckDB one-pass group-by", floor_times, floor_s),
        _row("DuckDB: SQL models, full build", duck_times, floor_s),
        _row(
            f"DuckDB: refresh after {CHANGE:,} changes ({max(weeks_rebuilt)} wk)",
            refresh_times,
            floor_s,
        ),
        _row("Polars: the same, full (lazy, collected)", polars_times, floor_s),
    ]
    duck_med = statistics.median(duck_times)
    ratios = [
        f"  Polars / DuckDB (full builds) = {statistics.median(polars_times) / duck_med:.2f}",
        f"  CPU time (DuckDB's threads, this process), median: floor"
        f" {statistics.median(floor_cpu):.2f} s, full build {statistics.median(duck_cpu):.2f} s"
        f" (worst {max(duck_cpu):.2f} s), {os.cpu_count()} cores",
    ]
    duck.close()
    if with_postgres:
        pg_times = _postgres_weekly(incidents, history.teams, slo, max(1, repeat - 1))
        lines.append(_row("PostgreSQL: the same in one SQL query", pg_times, floor_s))
        ratios.append(
            f"  PostgreSQL / DuckDB (full builds) = {statistics.median(pg_times) / duck_med:.2f}"
        )
    full_goal = "met" if duck_med < 5 else "NOT met"
    refresh_goal = "met" if statistics.median(refresh_times) < 5 else "NOT met"
    return [
        *lines,
        *ratios,
        f"  incremental refreshes equal a full rebuild: {'yes' if not differing else 'NO'}"
        f" ({differing} rows differ)",
        f"  goal (< 5 s at {n:,} in DuckDB): full build {full_goal},"
        f" incremental refresh {refresh_goal}",
    ]


def _changes(
    duck: duckdb.DuckDBPyConnection,
    service: pl.DataFrame,
    end: datetime,
    stamp: datetime,
    seed: int,
) -> pl.DataFrame:
    """`CHANGE` service incidents as an ingest lands them: half updates of incidents of
    the last 8 weeks (acknowledged, severity and engineer changed), half new ones over
    the last 2 weeks; stamped after every earlier change."""
    current = duck.sql("select * from raw.incidents where incident_id like 'SVC-%'").pl()
    updated = (
        current.sample(CHANGE // 2, seed=seed)
        .with_columns(
            pl.coalesce("acknowledged_at", pl.col("created_at") + pl.duration(minutes=4)).alias(
                "acknowledged_at"
            ),
            pl.when(pl.col("severity") == "SEV4_LOW")
            .then(pl.lit("SEV3_MEDIUM"))
            .otherwise(pl.lit("SEV4_LOW"))
            .alias("severity"),
            pl.format("{}-oncall-9", pl.col("assigned_team")).alias("assignee"),
        )
        .select(current.columns)
    )
    new = synthetic.generate_history(
        CHANGE - updated.height,
        seed=seed,
        start=end - timedelta(days=14),
        days=14,
        id_prefix=f"NEW{seed}",
    ).incidents
    fresh = synthetic.as_service_rows(new, stamp).select(current.columns)
    rows: pl.DataFrame = pl.concat([updated, fresh]).drop("updated_at")
    return rows.with_columns(
        (pl.lit(stamp) + pl.duration(microseconds=pl.int_range(pl.len()))).alias("updated_at")
    ).select(current.columns)


def _differs_from_full_build(duck: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Rows of the (incrementally refreshed) mart that a full rebuild does not give, or
    gives with another value (floats to 1e-9 relative)."""
    duck.execute(f"create or replace temp table _full as {sql}")
    columns = [
        str(name)
        for name, dtype in duck.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_name = 'rpt_reliability_weekly' and table_schema = 'main'"
        ).fetchall()
        if name not in ("team", "service", "week")
    ]
    checks = " or ".join(
        f"not (a.{c} is not distinct from b.{c} or abs(a.{c} - b.{c}) <= 1e-9 * (1 + abs(b.{c})))"
        if c not in ("is_total",)
        else f"a.{c} is distinct from b.{c}"
        for c in columns
    )
    return int(
        duck.execute(
            "select count(*) from rpt_reliability_weekly a full join _full b"
            " on a.team = b.team and a.service = b.service and a.week = b.week"
            f" where a.week is null or b.week is null or {checks}"
        ).fetchall()[0][0]
    )


def _copy_frame(
    conn: psycopg.Connection[tuple[object, ...]], table: str, frame: pl.DataFrame
) -> None:
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False, null_value="\\N")
    cols = ", ".join(frame.columns)
    with (
        conn.cursor() as cur,
        cur.copy(f"copy {table} ({cols}) from stdin (format csv, null '\\N')") as copy,
    ):
        view = buf.getbuffer()
        for i in range(0, len(view), 1 << 20):
            copy.write(view[i : i + (1 << 20)])


def _postgres_weekly(
    incidents: pl.DataFrame, teams: pl.DataFrame, slo: pl.DataFrame, repeat: int
) -> list[float]:
    cols = [
        "incident_id",
        "severity",
        "service",
        "assigned_team",
        "assignee",
        "created_at",
        "acknowledged_at",
        "resolved_at",
    ]
    with scratch_database("analytics_bench") as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "create unlogged table bench_incidents (incident_id text, severity text,"
            " service text, assigned_team text, assignee text, created_at timestamptz,"
            " acknowledged_at timestamptz, resolved_at timestamptz)"
        )
        conn.execute("create table bench_teams (team text, utc_offset_h int)")
        conn.execute(
            "create table bench_slo (severity text, ack_target_s int, resolve_target_s int)"
        )
        progress(f"loading {incidents.height:,} incidents into PostgreSQL (not timed)")
        _copy_frame(conn, "bench_incidents", incidents.select(cols))
        _copy_frame(conn, "bench_teams", teams.select("team", "utc_offset_h"))
        _copy_frame(conn, "bench_slo", slo)
        conn.execute("analyze")
        conn.execute("set work_mem = '256MB'")
        return _timed(lambda: conn.execute(PG_WEEKLY).fetchall(), repeat, "PostgreSQL")


def bench_ingest(base: int, new: int, rounds: int) -> list[str]:
    """Ingest `new` fresh incidents (and their timeline rows) after a `base` history."""
    now = datetime.now(UTC)
    with scratch_database("analytics_ingest") as url, psycopg.connect(url, autocommit=True) as pg:
        duck = warehouse.connect(":memory:")
        _insert_incidents(pg, base, "BASE", now - timedelta(days=30))
        progress(f"initial ingest of {base:,} incidents")
        ingest.ingest(pg, duck)
        ingest_times, copy_times, rerun_times = [], [], []
        for r in range(rounds):
            # Stamped with the time of writing, as the service does.
            _insert_incidents(pg, new, f"NEW{r}", datetime.now(UTC))
            start = time.perf_counter()
            report = ingest.ingest(pg, duck)
            ingest_times.append(time.perf_counter() - start)
            changed = report.by_table()["incidents"].changed
            assert changed == new, f"ingest changed {changed}, expected {new}"
            progress(f"ingest round {r + 1}/{rounds}: {ingest_times[-1]:.2f} s ({changed:,} new)")
            start = time.perf_counter()
            with (
                pg.cursor() as cur,
                cur.copy(
                    "copy (select * from incidents where incident_id like %s) to stdout",
                    (f"NEW{r}-%",),
                ) as copy,
            ):
                for _ in copy:
                    pass
            copy_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert ingest.ingest(pg, duck).changed == 0
            rerun_times.append(time.perf_counter() - start)
        duck.close()
    floor = statistics.median(copy_times)
    goal = "met" if statistics.median(ingest_times) < 10 else "NOT met"
    return [
        f"incremental ingest of {new:,} new incidents (+{new:,} timeline rows) after {base:,}",
        f"  {'':<44} {'median':>11}  {'worst':>11}  {'vs floor':>9}",
        _row("floor: bare COPY of the new incidents out", copy_times, floor),
        _row("ingest (COPY -> Polars -> DuckDB merge)", ingest_times, floor),
        _row("re-run with nothing new", rerun_times, floor),
        f"  goal (< 10 s): {goal}",
    ]


def _insert_incidents(
    pg: psycopg.Connection[tuple[object, ...]], n: int, prefix: str, at: datetime
) -> None:
    progress(f"writing {n:,} incidents ({prefix}) into PostgreSQL")
    frame = synthetic.generate_history(n, seed=len(prefix) + n, id_prefix=prefix).incidents
    _copy_frame(pg, "incidents", synthetic.as_service_rows(frame, at))
    timeline = frame.select(
        "incident_id",
        pl.lit("created").alias("kind"),
        pl.lit("synthetic").alias("actor"),
        pl.lit("OPEN").alias("to_status"),
        pl.col("created_at").alias("occurred_at"),
    )
    _copy_frame(pg, "incident_timeline", timeline)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.analytics")
    parser.add_argument("--incidents", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ingest-base", type=int, default=200_000)
    parser.add_argument("--ingest-new", type=int, default=100_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--only", choices=("marts", "ingest"))
    args = parser.parse_args(argv)
    lines: list[str] = []
    if args.only != "ingest":
        lines += bench_marts(args.incidents, args.repeat, not args.skip_postgres)
    if args.only != "marts":
        lines += ["", *bench_ingest(args.ingest_base, args.ingest_new, args.repeat)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
