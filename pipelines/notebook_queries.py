"""Notebook-facing queries over the warehouse (`notebooks/incident_explorer.py`,
`notebooks/reliability.py`), and the demo warehouse `make notebooks` builds.

Every query is parameterised and reads the marts and staging models of `dbt_like_sql/`.
Trends are computed with the metric expressions `rpt_reliability_weekly` defines (read
from its SQL by `pipelines.sql_transforms.metrics`), so a filtered trend means exactly what the
weekly report means; only the grouping and the filters differ.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines import sql_transforms, synthetic, warehouse

DIMENSIONS = {"team": "assigned_team", "service": "service", "severity": "severity"}
TREND_METRICS = (
    "incidents",
    "mtta_p50_s",
    "mttr_p50_s",
    "ack_slo_attainment",
    "resolve_slo_attainment",
)


def warehouse_path(env: dict[str, str] | None = None) -> Path:
    """``NOTEBOOK_WAREHOUSE``, else ``ANALYTICS_WAREHOUSE``, else ``DATA_DIR/warehouse.duckdb``
    (the file `make dagster` writes)."""
    env = dict(os.environ) if env is None else env
    chosen = env.get("NOTEBOOK_WAREHOUSE") or env.get("ANALYTICS_WAREHOUSE")
    if chosen:
        return Path(chosen)
    return Path(env.get("DATA_DIR", ".data")) / "warehouse.duckdb"


@contextmanager
def reading(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse at `path` for one read, closed on leaving: read-only, on the snapshot
    its writer publishes after each run (`warehouse.publish_snapshot`), never on the file
    Dagster writes. DuckDB refuses every other process, readers included, while a writer
    holds a file, and a reader holding it would stop the writer: so a notebook holds
    nothing between reads, and a read sees the newest published run. A warehouse written
    before snapshots existed is read directly (while no run is writing it)."""
    snapshot = warehouse.snapshot_path(path)
    chosen = snapshot if snapshot.exists() else path
    if not chosen.exists():
        msg = f"no warehouse at {path}: run `make notebooks` (builds a demo one) or `make dagster`"
        raise FileNotFoundError(msg)
    conn = duckdb.connect(str(chosen), read_only=True)
    try:
        conn.execute("set timezone = 'UTC'")
        yield conn
    finally:
        conn.close()


def build_demo_warehouse(
    path: Path, incidents: int = 3000, seed: int = 7, days: int = 182
) -> dict[str, int | None]:
    """A warehouse of seeded synthetic history with every SQL model built; row counts."""
    history = synthetic.generate_history(incidents, seed=seed, days=days)
    duck = warehouse.connect(path)
    try:
        for name in ("teams", "services", "deploys", "incidents"):
            warehouse.replace_table(duck, f"synthetic.{name}", getattr(history, name))
        warehouse.ensure_sources(duck)
        counts = sql_transforms.run_all(duck)
        warehouse.publish_snapshot(duck, path)
        return counts
    finally:
        duck.close()


def _frame(
    duck: duckdb.DuckDBPyConnection, query: str, params: Sequence[object] = ()
) -> pl.DataFrame:
    frame = pl.from_arrow(duck.sql(query, params=list(params)).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)  # a table, never a single column
    return frame


@dataclass(frozen=True)
class Options:
    """What the filters offer: every team, service and severity, and the date range."""

    teams: list[str]
    services: list[str]
    severities: list[str]
    first_day: date
    last_day: date


def options(duck: duckdb.DuckDBPyConnection) -> Options:
    def distinct(column: str) -> list[str]:
        rows = duck.execute(
            f"select distinct {column} from fct_incidents where {column} is not null order by 1"
        ).fetchall()
        return [str(r[0]) for r in rows]

    first, last = duck.execute(
        "select min(created_at), max(created_at) from fct_incidents"
    ).fetchall()[0]
    today = datetime.now(UTC).date()
    return Options(
        distinct("assigned_team"),
        distinct("service"),
        distinct("severity"),
        first.date() if first else today,
        last.date() if last else today,
    )


@dataclass(frozen=True)
class Filters:
    """Date range (inclusive days, UTC) and optional team/service/severity lists."""

    since: date | None = None
    until: date | None = None
    teams: Sequence[str] = ()
    services: Sequence[str] = ()
    severities: Sequence[str] = ()

    def where(self) -> tuple[str, list[object]]:
        """A ``where`` clause over fct_incidents columns, with its parameters."""
        clauses, params = ["true"], []  # type: tuple[list[str], list[object]]
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(datetime.combine(self.since, time(), UTC))
        if self.until is not None:
            clauses.append("created_at < ?")
            params.append(datetime.combine(self.until + timedelta(days=1), time(), UTC))
        for column, values in (
            ("assigned_team", self.teams),
            ("service", self.services),
            ("severity", self.severities),
        ):
            if values:
                clauses.append(f"{column} in ({', '.join('?' for _ in values)})")
                params.extend(values)
        return " and ".join(clauses), params


def search_incidents(
    duck: duckdb.DuckDBPyConnection,
    text: str = "",
    filters: Filters | None = None,
    limit: int = 200,
) -> pl.DataFrame:
    """Incidents matching `text` (id or title, any case) and the filters: an exact id
    first, then newest first."""
    where, params = (filters or Filters()).where()
    text = text.strip()
    if text:
        where += " and (incident_id ilike ? or title ilike ?)"
        params += [f"%{text}%", f"%{text}%"]
    return _frame(
        duck,
        "select incident_id, title, severity, status, assigned_team as team, service,"
        " source_system, created_at, time_to_acknowledge_s, time_to_resolve_s"
        f" from fct_incidents where {where}"
        " order by lower(incident_id) = lower(?) desc, created_at desc, incident_id limit ?",
        [*params, text, int(limit)],
    )


def incident(duck: duckdb.DuckDBPyConnection, incident_id: str) -> dict[str, Any] | None:
    """The incident's row in `fct_incidents` (every column), or None."""
    rows = _frame(duck, "select * from fct_incidents where incident_id = ?", [incident_id])
    return rows.row(0, named=True) if rows.height else None


def _lane(kind: str, details: str | None) -> str:
    if kind in ("created", "status_changed", "merged_into"):  # merged_into: to MERGED
        return "status"
    if kind == "alert":
        return "alerts"
    if kind.startswith(("escalat", "notification_")):
        return "escalation"
    if kind.startswith("response_"):
        return "automated responses"
    if kind.startswith(("integration", "sync")) or (details and '"system"' in details):
        return "integration syncs"
    return "notes"


def incident_events(duck: duckdb.DuckDBPyConnection, incident_id: str) -> pl.DataFrame:
    """Everything that happened to the incident, oldest first: ``at, lane, label, outcome``.

    The service's timeline rows, its automated responses (with their outcome) and its
    integration syncs; for incidents with no timeline (synthetic or ServiceNow history),
    the milestones of `fct_incidents` (opened, acknowledged, resolved, closed).
    """
    from incident_service.postmortems.service import summarize_event

    rows: list[dict[str, Any]] = []
    for r in _frame(
        duck,
        "select kind, actor, from_status, to_status, note, details, occurred_at"
        " from stg_service__timeline where incident_id = ? order by occurred_at, event_id",
        [incident_id],
    ).iter_rows(named=True):
        details = json.loads(r["details"]) if r["details"] else {}
        rows.append(
            {
                "at": r["occurred_at"],
                "lane": _lane(r["kind"], r["details"]),
                "label": f"{summarize_event({**r, 'details': details})} ({r['actor']})",
                "outcome": r["to_status"] or details.get("execution_status") or "",
            }
        )
    if not rows:
        found = incident(duck, incident_id)
        milestones = ("created_at", "acknowledged_at", "resolved_at", "closed_at")
        for column in milestones if found else ():
            assert found is not None
            if found[column] is not None:
                name = column.removesuffix("_at")
                rows.append({"at": found[column], "lane": "status", "label": name, "outcome": name})
    for r in _frame(
        duck,
        "select action_type, execution_status, coalesce(executed_at, started_at, created_at) as at,"
        " last_error from raw.automated_responses where incident_id = ?",
        [incident_id],
    ).iter_rows(named=True):
        error = f": {r['last_error']}" if r["last_error"] else ""
        rows.append(
            {
                "at": r["at"],
                "lane": "automated responses",
                "label": f"{r['action_type']} {r['execution_status']}{error}",
                "outcome": r["execution_status"],
            }
        )
    for r in _frame(
        duck,
        "select system, action, status, attempts, coalesce(updated_at, created_at) as at"
        " from raw.integration_syncs where incident_id = ?",
        [incident_id],
    ).iter_rows(named=True):
        rows.append(
            {
                "at": r["at"],
                "lane": "integration syncs",
                "label": f"{r['system']} {r['action']}: {r['status']}"
                f" after {r['attempts']} attempt(s)",
                "outcome": r["status"],
            }
        )
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "at": pl.Datetime("us", "UTC"),
        "lane": pl.String,
        "label": pl.String,
        "outcome": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort("at")


def trend(duck: duckdb.DuckDBPyConnection, filters: Filters, by: str = "team") -> pl.DataFrame:
    """Weekly MTTA/MTTR medians (hours), SLO attainment and incidents per `by` group
    (``team``, ``service`` or ``severity``), with the weekly report's definitions."""
    if by not in DIMENSIONS:
        msg = f"by must be one of {', '.join(DIMENSIONS)}"
        raise ValueError(msg)
    defined = {m.name: m.expression for m in sql_transforms.metrics("rpt_reliability_weekly")}
    selects = ", ".join(f"{defined[name]} as {name}" for name in TREND_METRICS)
    where, params = filters.where()
    return _frame(
        duck,
        f"select week, {DIMENSIONS[by]} as {by}, {selects} from fct_incidents"
        f" where {where} group by all order by week, {by}",
        params,
    ).with_columns(
        (pl.col("mtta_p50_s") / 3600).alias("mtta_p50_h"),
        (pl.col("mttr_p50_s") / 3600).alias("mttr_p50_h"),
    )


def noisiest_services(
    duck: duckdb.DuckDBPyConnection, filters: Filters, limit: int = 10
) -> pl.DataFrame:
    """Services with the most incidents under the filters, with SEV1s and repeats."""
    where, params = filters.where()
    return _frame(
        duck,
        "select service, any_value(assigned_team) as team, count(*) as incidents,"
        " count(*) filter (where severity = 'SEV1_CRITICAL') as sev1,"
        " count(*) filter (where is_repeat) as repeats"
        f" from fct_incidents where {where} group by service"
        " order by incidents desc, service limit ?",
        [*params, int(limit)],
    )


def oncall_load(duck: duckdb.DuckDBPyConnection, filters: Filters, limit: int = 15) -> pl.DataFrame:
    """Pages per engineer from `rpt_oncall_load_weekly` over the date range and teams."""
    clauses, params = ["true"], []  # type: tuple[list[str], list[object]]
    if filters.since is not None:
        clauses.append("week >= ?")
        params.append(datetime.combine(filters.since - timedelta(days=6), time(), UTC))
    if filters.until is not None:
        clauses.append("week <= ?")
        params.append(datetime.combine(filters.until, time(), UTC))
    if filters.teams:
        clauses.append(f"team in ({', '.join('?' for _ in filters.teams)})")
        params.extend(filters.teams)
    return _frame(
        duck,
        "select team, engineer, sum(pages)::bigint as pages,"
        " sum(after_hours_pages)::bigint as after_hours_pages,"
        " sum(sev1_pages)::bigint as sev1_pages from rpt_oncall_load_weekly"
        f" where {' and '.join(clauses)} group by team, engineer"
        " order by pages desc, engineer limit ?",
        [*params, int(limit)],
    )


def response_effectiveness(
    duck: duckdb.DuckDBPyConnection, services: Sequence[str] = ()
) -> pl.DataFrame:
    """`rpt_automated_response_effectiveness`, for the given services (all when empty)."""
    where = f"service in ({', '.join('?' for _ in services)})" if services else "true"
    return _frame(
        duck,
        "select action_type, service, runs, success_rate, mean_run_s,"
        " mttr_with_s / 3600 as mttr_with_h, mttr_without_s / 3600 as mttr_without_h"
        f" from rpt_automated_response_effectiveness where {where} order by runs desc",
        list(services),
    )


def sources(duck: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse's source systems (service, synthetic, servicenow), largest first."""
    rows = duck.execute(
        "select source_system from fct_incidents group by 1 order by count(*) desc, 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def incidents_for_models(
    duck: duckdb.DuckDBPyConnection, source: str | None = None
) -> pl.DataFrame:
    """What `models.diagnostics.history_from_incidents` reads, from one source system (or all):
    each incident as opened, with its final severity and resolution. Sources have their own
    clocks (a generated history ends where it was cut), so models are judged on one."""
    return _frame(
        duck,
        "select incident_id, title, severity, assigned_team, affected_services, created_at,"
        " resolved_at from fct_incidents where ? is null or source_system = ?"
        " order by created_at, incident_id",
        [source, source],
    )
