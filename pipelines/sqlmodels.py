"""The dbt-style SQL models in ``dbt_like_sql/``: discovery, dependencies, runs, data tests.

Each ``staging/``, ``intermediate/`` and ``marts/`` file is one model, materialised as a
DuckDB table named after the file. What a model reads is taken from its SQL with
sqlglot: a bare name that is another model's is a dependency, a ``schema.table`` name is
a source (``raw.incidents``, ``seeds.slo_targets``, ...), and CTE names are neither, so
nothing is declared twice. ``tests/*.sql`` are data tests: queries that must return no
rows; each tests the models it reads. ``seeds/*.csv`` load into ``seeds.<name>``.

Metric definitions live in the SQL too: in a model, a comment line
``-- <column>: <definition>`` directly above the column's expression. `metrics()`
returns each with its SQL expression so the reports print exactly what was computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp

from pipelines.warehouse import replace_table

SQL_ROOT = Path(__file__).resolve().parent.parent / "dbt_like_sql"
LAYERS = ("staging", "intermediate", "marts")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(view|table)\s*$", re.MULTILINE)
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
        """``view`` or ``table``: a ``-- materialized: view|table`` line, else the layer's."""
        match = _MATERIALIZED.search(self.sql)
        return match.group(1) if match else MATERIALIZATION[self.layer]


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


def materialize(duck: duckdb.DuckDBPyConnection, model: SqlModel) -> int | None:
    """(Re)build the model (a view or a table, by layer); a table's row count."""
    kind = model.materialized
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
        if existing and other != kind:
            duck.execute(f'drop {other} main."{model.name}"')
    duck.execute(f'create or replace {kind} main."{model.name}" as\n{model.sql}')
    if kind == "view":
        return None  # counting a view would compute it
    return int(duck.execute(f'select count(*) from main."{model.name}"').fetchall()[0][0])


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
        if match and match.group(1) == "materialized":
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
