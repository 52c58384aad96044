"""The dbt-style SQL models in ``dbt_like_sql/``: discovery, dependencies, runs, data tests.

Each ``staging/``, ``intermediate/`` and ``marts/`` file is one model, materialised as a
DuckDB table named after the file. What a model reads is taken from its SQL with
sqlglot: a bare name that is another model's is a dependency, a ``schema.table`` name is
a source (``raw.incidents``, ``seeds.slo_targets``, ...), and CTE names are neither, so
nothing is declared twice. ``tests/*.sql`` are data tests: queries that must return no
rows; each tests the models it reads. ``seeds/*.csv`` load into ``seeds.<name>``.

A model is a view, a table, or ``incremental``: a table of weekly rows (a ``week``
column) rebuilt only for the weeks whose incidents changed; see `refresh`.

Metric definitions live in the SQL too: in a model, a comment line
``-- <column>: <definition>`` directly above the column's expression. `metrics()`
returns each with its SQL expression so the reports print exactly what was computed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp

from pipelines.warehouse import replace_table, snapshot_digest

SQL_ROOT = Path(__file__).resolve().parent.parent / "dbt_like_sql"
LAYERS = ("staging", "intermediate", "marts")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(view|table|incremental)\s*$", re.MULTILINE)
_LOOKBACK = re.compile(r"^--\s*lookback_days:\s*(\d+)\s*$", re.MULTILINE)
_HEADER_KEYS = {"materialized", "lookback_days"}
_METRIC_COMMENT = re.compile(r"^\s*--\s*([a-z0-9_]+):\s*(.+?)\s*$")


class SqlModelError(ValueError):
    """A model or test that cannot be parsed or refers to something unknown."""


@dataclass(frozen=True)
class SqlModel:
    name: str
    layer: str
    path: Path
    sql: str
    depends_on: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def materialized(self) -> str:
        """``view``, ``table`` or ``incremental``: a ``-- materialized: ...`` line, else
        the layer's."""
        match = _MATERIALIZED.search(self.sql)
        return match.group(1) if match else MATERIALIZATION[self.layer]

    @property
    def lookback_days(self) -> int:
        """An incremental model's ``-- lookback_days: N``: how far before a week its rows
        read incidents (a repeat looks back 7 days); 0 if it says nothing."""
        match = _LOOKBACK.search(self.sql)
        return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class DataTest:
    name: str
    path: Path
    sql: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class Metric:
    model: str
    name: str
    definition: str
    expression: str


@dataclass
class TestResult:
    test: str
    failing_rows: int
    sample: list[tuple[object, ...]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def _references(sql: str, where: str) -> tuple[set[str], set[str]]:
    """(bare table names, schema-qualified names) a query reads, CTEs excluded."""
    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        msg = f"{where}: cannot parse: {exc}"
        raise SqlModelError(msg) from exc
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    bare: set[str] = set()
    qualified: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not table.name:
            continue  # a table function such as range(...)
        if table.db:
            qualified.add(f"{table.db}.{table.name}")
        elif table.name not in ctes:
            bare.add(table.name)
    return bare, qualified


def discover(root: Path = SQL_ROOT) -> dict[str, SqlModel]:
    """Every model under `root`, keyed by name, with its parsed dependencies."""
    files = {p.stem: (layer, p) for layer in LAYERS for p in sorted((root / layer).glob("*.sql"))}
    models: dict[str, SqlModel] = {}
    for name, (layer, path) in files.items():
        sql = path.read_text()
        bare, qualified = _references(sql, str(path.relative_to(root)))
        unknown = sorted(bare - set(files))
        if unknown:
            msg = f"{path.relative_to(root)}: reads unknown table(s) {', '.join(unknown)}"
            raise SqlModelError(msg)
        models[name] = SqlModel(
            name, layer, path, sql, tuple(sorted(bare)), tuple(sorted(qualified))
        )
    return models


def run_order(models: dict[str, SqlModel]) -> list[str]:
    """Model names so that each comes after everything it reads."""
    return list(
        TopologicalSorter({m.name: set(m.depends_on) for m in models.values()}).static_order()
    )


def load_seeds(duck: duckdb.DuckDBPyConnection, root: Path = SQL_ROOT) -> list[str]:
    loaded = []
    for path in sorted((root / "seeds").glob("*.csv")):
        replace_table(duck, f"seeds.{path.stem}", pl.read_csv(path))
        loaded.append(path.stem)
    return loaded


# dbt's defaults: staging and intermediate models are views (no copy of the rows), marts
# are tables (what reports and checks read repeatedly).
MATERIALIZATION = {"staging": "view", "intermediate": "view", "marts": "table"}


@dataclass(frozen=True)
class Refresh:
    """What building a model did: ``view``, ``full`` (a table built whole),
    ``incremental`` (only `weeks` rebuilt) or ``unchanged`` (nothing to rebuild)."""

    mode: str
    rows: int | None
    weeks: tuple[datetime, ...] = ()


def materialize(
    duck: duckdb.DuckDBPyConnection,
    model: SqlModel,
    models: dict[str, SqlModel] | None = None,
    full_refresh: bool = False,
) -> int | None:
    """(Re)build the model; a table's row count (see `refresh`)."""
    return refresh(duck, model, models, full_refresh).rows


def refresh(
    duck: duckdb.DuckDBPyConnection,
    model: SqlModel,
    models: dict[str, SqlModel] | None = None,
    full_refresh: bool = False,
) -> Refresh:
    """Build the model as its kind says: a view, a table rebuilt whole, or an incremental
    table (`models`, every model, defaults to those beside this one's file)."""
    kind = model.materialized
    physical = "table" if kind == "incremental" else kind
    # A model may change kind between versions: drop whatever is there first.
    for other in ("view", "table"):
        existing = duck.execute(
            "select count(*) from duckdb_"
            + other
            + "s() where schema_name = 'main' and "
            + other
            + "_name = ?",
            [model.name],
        ).fetchall()[0][0]
        if existing and other != physical:
            duck.execute(f'drop {other} main."{model.name}"')
    if kind == "incremental":
        return _refresh_incremental(
            duck, model, models or discover(model.path.parent.parent), full_refresh
        )
    duck.execute(f'create or replace {kind} main."{model.name}" as\n{model.sql}')
    if kind == "view":
        return Refresh("view", None)  # counting a view would compute it
    return Refresh("full", _count(duck, model.name))


def _count(duck: duckdb.DuckDBPyConnection, name: str) -> int:
    return int(duck.execute(f'select count(*) from main."{name}"').fetchall()[0][0])


# Incremental models ------------------------------------------------------------------
#
# An incremental model has a `week` column (weeks start Monday 00:00 UTC) and reads the
# incidents through `int_incidents` and views only. Its rows for a week depend on the
# incidents opened that week and, for `lookback_days`, before it. A refresh:
#
# 1. rebuilds the whole table if it or its state is missing, or the fingerprint changed:
#    the SQL of the model and of everything it reads, and the digest of every snapshot
#    source it reads (seeds, drop folder, synthetic history, ServiceNow import; see
#    `warehouse.replace_table`). `raw.*` tables are ingested row by row and tracked by
#    `updated_at` instead;
# 2. otherwise finds the incidents changed since the last build (`updated_at` after
#    that source's watermark), the weeks they were opened in and the weeks their
#    look-back reaches into, and rebuilds those weeks: the model's SQL, with every view
#    between it and `int_incidents` inlined and `int_incidents` restricted to the
#    incidents opened in those weeks or their look-back, replaces those weeks' rows.
#
# An incident's open time never changes, so its week does not either. Incidents are
# never deleted from `raw.incidents`; snapshot sources that lose rows change digest.

PARTITION_SOURCE = "int_incidents"
_WEEK = timedelta(days=7)
# The source system whose incidents arrive by ingest, and the `meta.ingest_state` row
# that says where the next ingest starts reading them.
_INGESTED = {"service": "incidents"}


def _ensure_state(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute("create schema if not exists meta")
    duck.execute(
        "create table if not exists meta.incremental_state (model varchar primary key,"
        " fingerprint varchar, built_at timestamptz)"
    )
    duck.execute(
        "create table if not exists meta.incremental_watermarks (model varchar,"
        " source_system varchar, since timestamptz, primary key (model, source_system))"
    )


def ancestors(models: dict[str, SqlModel], name: str) -> set[str]:
    """Every model `name` reads, directly or through others."""
    seen: set[str] = set()
    todo = list(models[name].depends_on)
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(models[dep].depends_on)
    return seen


def fingerprint(duck: duckdb.DuckDBPyConnection, models: dict[str, SqlModel], name: str) -> str:
    """The SQL of the model and all it reads, and the digests of the snapshot sources."""
    names = sorted(ancestors(models, name) | {name})
    sources = sorted({s for n in names for s in models[n].sources if not s.startswith("raw.")})
    parts = [models[n].sql for n in names]
    parts += [f"{source}={snapshot_digest(duck, source)}" for source in sources]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def scoped_sql(models: dict[str, SqlModel], name: str, where: str) -> str:
    """The model's SQL with every view it reads on the way to `int_incidents` inlined,
    and `int_incidents` replaced by its rows matching `where`."""
    tree = sqlglot.parse_one(models[name].sql, dialect="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}

    def swap(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or node.db or node.name in ctes:
            return node
        if node.name == PARTITION_SOURCE:
            inner = f"select * from {PARTITION_SOURCE} where {where}"
        elif node.name in models and PARTITION_SOURCE in ancestors(models, node.name):
            if models[node.name].materialized != "view":
                msg = (
                    f"{name}: incremental, but reads {node.name}, a"
                    f" {models[node.name].materialized}, on the way to {PARTITION_SOURCE}"
                )
                raise SqlModelError(msg)
            inner = scoped_sql(models, node.name, where)
        else:
            return node
        query = sqlglot.parse_one(inner, dialect="duckdb")
        if not isinstance(query, exp.Query):  # pragma: no cover - both are selects
            raise SqlModelError(f"{node.name}: not a query")
        return query.subquery(node.alias_or_name)

    return tree.transform(swap).sql(dialect="duckdb", comments=False)


def _ts(value: datetime) -> str:
    return f"timestamptz '{value.isoformat()}'"


def _watermarks(
    duck: duckdb.DuckDBPyConnection, where: str, previous: dict[str, datetime]
) -> dict[str, datetime]:
    """Per source system, after which `updated_at` the next refresh looks for changes:
    the newest among the incidents matching `where` (or the previous mark), and for
    ingested incidents never later than where the next ingest starts reading (a
    transaction that commits late lands rows stamped before the newest seen; see
    `pipelines/ingest.py`)."""
    marks = dict(previous)
    for system, newest in duck.execute(
        f"select source_system, max(updated_at) from {PARTITION_SOURCE}"
        f" where {where} group by source_system"
    ).fetchall():
        if newest is not None:
            marks[str(system)] = max(newest, marks.get(str(system), newest))
    return _capped_by_ingest(duck, marks)


def _capped_by_ingest(
    duck: duckdb.DuckDBPyConnection, marks: dict[str, datetime]
) -> dict[str, datetime]:
    marks = dict(marks)
    has_ingest_state = duck.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'meta' and table_name = 'ingest_state'"
    ).fetchall()[0][0]
    for system, table in _INGESTED.items():
        if system not in marks or not has_ingest_state:
            continue
        row = duck.execute(
            "select watermark_ts from meta.ingest_state where table_name = ?", [table]
        ).fetchall()
        if row and row[0][0] is not None:
            # The ingest reads from its watermark inclusive; ours is exclusive.
            marks[system] = min(marks[system], row[0][0] - timedelta(microseconds=1))
    return marks


def _changed_filter(since: dict[str, datetime]) -> str:
    """The incidents changed since the watermarks (a source system seen for the first
    time: all of its incidents; no `updated_at`: always)."""
    known = [
        f"(source_system = '{system}' and updated_at > {_ts(mark)})"
        for system, mark in sorted(since.items())
    ]
    systems = ", ".join(f"'{system}'" for system in sorted(since)) or "''"
    return " or ".join([*known, f"source_system not in ({systems})", "updated_at is null"])


def _weeks_filter(weeks: list[datetime], lookback_days: int) -> str:
    """The incidents the rows of `weeks` read: opened in them or in their look-back."""
    spans: list[list[datetime]] = []
    for week in sorted(weeks):
        start = week - timedelta(days=lookback_days)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = week + _WEEK
        else:
            spans.append([start, week + _WEEK])
    return " or ".join(f"(created_at >= {_ts(lo)} and created_at < {_ts(hi)})" for lo, hi in spans)


def _refresh_incremental(
    duck: duckdb.DuckDBPyConnection,
    model: SqlModel,
    models: dict[str, SqlModel],
    full_refresh: bool,
) -> Refresh:
    _ensure_state(duck)
    target = f'main."{model.name}"'
    current = fingerprint(duck, models, model.name)
    state = duck.execute(
        "select fingerprint from meta.incremental_state where model = ?", [model.name]
    ).fetchall()
    exists = duck.execute(
        "select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?",
        [model.name],
    ).fetchall()[0][0]
    since = {
        str(system): mark
        for system, mark in duck.execute(
            "select source_system, since from meta.incremental_watermarks where model = ?",
            [model.name],
        ).fetchall()
    }
    duck.execute("begin transaction")
    try:
        if full_refresh or not exists or not state or state[0][0] != current:
            duck.execute(f"create or replace table {target} as\n{model.sql}")
            result = Refresh("full", None)
            marks = _watermarks(duck, "true", {})
        else:
            changed = _changed_filter(since)
            weeks = _changed_weeks(duck, models, model, changed)
            marks = _watermarks(duck, changed, since)
            if weeks:
                listed = ", ".join(_ts(w) for w in weeks)
                scoped = scoped_sql(models, model.name, _weeks_filter(weeks, model.lookback_days))
                duck.execute(f"delete from {target} where week in ({listed})")
                duck.execute(
                    f"insert into {target} select * from ({scoped}) where week in ({listed})"
                )
            result = Refresh("incremental" if weeks else "unchanged", None, tuple(weeks))
        duck.execute(
            "insert or replace into meta.incremental_state values (?, ?, now())",
            [model.name, current],
        )
        duck.execute("delete from meta.incremental_watermarks where model = ?", [model.name])
        for system, mark in marks.items():
            duck.execute(
                "insert into meta.incremental_watermarks values (?, ?, ?)",
                [model.name, system, mark],
            )
        duck.execute("commit")
    except BaseException:
        duck.execute("rollback")
        raise
    return Refresh(result.mode, _count(duck, model.name), result.weeks)


def _changed_weeks(
    duck: duckdb.DuckDBPyConnection,
    models: dict[str, SqlModel],
    model: SqlModel,
    changed: str,
) -> list[datetime]:
    """The weeks to rebuild: those holding a changed incident (as the model itself puts
    it in a week), and the weeks its look-back reaches from there."""
    scoped = scoped_sql(models, model.name, changed)
    weeks = {w for (w,) in duck.execute(f"select distinct week from ({scoped})").fetchall()}
    reach = -(-model.lookback_days // 7)  # whole weeks, rounded up
    return sorted({w + k * _WEEK for w in weeks for k in range(reach + 1)})


def run_all(duck: duckdb.DuckDBPyConnection, root: Path = SQL_ROOT) -> dict[str, int | None]:
    """Seeds, then every model in dependency order; row counts by model."""
    load_seeds(duck, root)
    models = discover(root)
    return {name: materialize(duck, models[name]) for name in run_order(models)}


def discover_tests(root: Path = SQL_ROOT) -> list[DataTest]:
    models = discover(root)
    tests = []
    for path in sorted((root / "tests").glob("*.sql")):
        sql = path.read_text()
        bare, _ = _references(sql, str(path.relative_to(root)))
        unknown = sorted(bare - set(models))
        if unknown:
            msg = f"{path.relative_to(root)}: reads unknown model(s) {', '.join(unknown)}"
            raise SqlModelError(msg)
        tests.append(DataTest(path.stem, path, sql, tuple(sorted(bare))))
    return tests


def run_test(duck: duckdb.DuckDBPyConnection, test: DataTest, sample: int = 5) -> TestResult:
    """Run a data test: every row it returns is a failure."""
    query = test.sql.strip().rstrip(";")
    count = int(duck.execute(f"select count(*) from ({query})").fetchall()[0][0])
    rows = duck.execute(f"select * from ({query}) limit {int(sample)}").fetchall() if count else []
    return TestResult(test.name, count, rows)


@cache
def metrics(model_name: str, root: Path = SQL_ROOT) -> tuple[Metric, ...]:
    """The metrics a model defines: each commented column of its select lists."""
    model = discover(root)[model_name]
    described: dict[str, str] = {}
    for line in model.sql.splitlines():
        match = _METRIC_COMMENT.match(line)
        if match and match.group(1) in _HEADER_KEYS:
            continue
        if match:
            described[match.group(1)] = match.group(2)
    tree = sqlglot.parse_one(model.sql, dialect="duckdb")
    found: list[Metric] = []
    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            name = projection.alias_or_name
            if name in described and isinstance(projection, exp.Alias):
                expression = projection.this.sql(
                    dialect="duckdb", comments=False, normalize_functions="lower"
                )
                found.append(Metric(model_name, name, described.pop(name), expression))
    return tuple(found)
