"""Incremental ingest from the service's PostgreSQL into the DuckDB warehouse.

Each source table is read with `COPY (select ...) TO STDOUT` (CSV) into a Polars frame
and merged into ``raw.<table>`` by its key. DuckDB's postgres extension cannot be
downloaded here, and nothing may be at run time, so psycopg's COPY is the transport.

Incremental by a watermark: the first of a table's ``watermark_candidates`` that exists
(``updated_at`` where the table has one). ``now()`` in PostgreSQL is the *transaction
start*, so a transaction that began before a run but commits after it writes a timestamp
older than anything that run saw. Each run therefore records where the next one must
start reading: the latest timestamp it saw, or the start of the oldest transaction open
in the database just before it read, whichever is earlier (from ``pg_stat_activity``;
when the role cannot see other sessions there, a fixed ``lookback`` is used instead).
Rows read again are compared with what the warehouse holds and only real changes are
written, so a re-run changes nothing. Append-only tables use their bigserial id as the
watermark, with a lookback counted in ids (ids are handed out before commit too). A
table without any watermark column is read in full each run and merged the same way.

Columns are discovered from ``information_schema`` on every run, so a column another
migration adds appears in the warehouse by itself (``alter table ... add column``). A
table that does not exist yet is reported as missing, not an error.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceTable:
    """A PostgreSQL table mirrored into ``raw.<name>``."""

    name: str
    key: str
    watermark_candidates: tuple[str, ...] = ("updated_at",)


# The service's tables the analytics read. Tables added by later migrations (alerts,
# integration links and syncs, escalations) are listed here whether or not they exist yet.
SOURCES: tuple[SourceTable, ...] = (
    SourceTable("incidents", "incident_id"),
    # Append-only tables keyed by a bigserial: the id is the watermark, and the lookback
    # is counted in ids (a transaction can commit a lower id after a higher one).
    SourceTable("incident_timeline", "id", ("id",)),
    SourceTable("automated_responses", "response_id"),
    SourceTable("alerts", "id", ("id",)),
    # PagerDuty change events (deploys, config changes) kept by the alert intake.
    SourceTable("change_events", "id", ("id",)),
    SourceTable("alert_groups", "id"),
    SourceTable("integration_links", "id", ("updated_at", "last_synced_at")),
    SourceTable("integration_syncs", "sync_id"),
    SourceTable("incident_escalations", "incident_id"),
    # Rows change in place (delivery status) without an updated_at: read in full.
    SourceTable("escalation_notifications", "id", ()),
    # The responder's record: stakeholder updates and their reminders (append-only), and
    # follow-ups (changed in place, stamped).
    SourceTable("incident_updates", "id", ("id",)),
    SourceTable("update_reminders", "id", ("id",)),
    SourceTable("follow_ups", "id"),
    # Role holdings are relieved in place without an updated_at: read in full.
    SourceTable("incident_role_assignments", "id", ()),
)

_INT_TYPES = {"smallint", "integer", "bigint"}
_FLOAT_TYPES = {"real", "double precision", "numeric"}
_TS_TYPES = {"timestamp with time zone", "timestamp without time zone"}


@dataclass
class TableResult:
    """What one table's ingest did."""

    table: str
    status: str  # "ingested" | "missing"
    read: int = 0
    changed: int = 0
    total: int = 0
    watermark_column: str | None = None
    watermark: datetime | int | None = None


@dataclass
class IngestReport:
    tables: list[TableResult] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tables)

    def by_table(self) -> dict[str, TableResult]:
        return {t.table: t for t in self.tables}


def ensure_meta(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute("create schema if not exists raw")
    duck.execute("create schema if not exists meta")
    duck.execute(
        "create table if not exists meta.ingest_state ("
        " table_name varchar primary key, watermark_column varchar,"
        " watermark_ts timestamptz, watermark_id bigint, rows_total bigint,"
        " last_run_at timestamptz)"
    )


def _columns(pg: psycopg.Connection[tuple[object, ...]], table: str) -> list[tuple[str, str]]:
    rows = pg.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = current_schema() and table_name = %s order by ordinal_position",
        (table,),
    ).fetchall()
    return [(str(name), str(dtype)) for name, dtype in rows]


def _select_list(columns: list[tuple[str, str]]) -> tuple[sql.Composable, dict[str, pl.DataType]]:
    """Casts that make CSV lossless and cheap to parse; and the Polars schema to read it."""
    parts: list[sql.Composable] = []
    schema: dict[str, pl.DataType] = {}
    for name, dtype in columns:
        ident = sql.Identifier(name)
        if dtype in _TS_TYPES:
            # Epoch microseconds: exact, and no timezone text to parse.
            parts.append(
                sql.SQL("(extract(epoch from {}) * 1000000)::bigint as {}").format(ident, ident)
            )
            schema[name] = pl.Int64()
        elif dtype in _INT_TYPES:
            parts.append(ident)
            schema[name] = pl.Int64()
        elif dtype in _FLOAT_TYPES:
            parts.append(sql.SQL("{}::double precision as {}").format(ident, ident))
            schema[name] = pl.Float64()
        elif dtype == "boolean":
            parts.append(sql.SQL("{}::text as {}").format(ident, ident))
            schema[name] = pl.Boolean()
        else:  # text, varchar, jsonb, uuid, xid8, arrays: their text form
            parts.append(sql.SQL("{}::text as {}").format(ident, ident))
            schema[name] = pl.String()
    return sql.SQL(", ").join(parts), schema


def read_table(
    pg: psycopg.Connection[tuple[object, ...]],
    table: str,
    columns: list[tuple[str, str]],
    watermark_column: str | None,
    since: datetime | int | None,
) -> pl.DataFrame:
    """Rows of `table` (all, or those with `watermark_column >= since`) via COPY."""
    select_list, schema = _select_list(columns)
    query = sql.SQL("select {} from {}").format(select_list, sql.Identifier(table))
    params: tuple[object, ...] = ()
    if watermark_column and since is not None:
        query = sql.SQL("{} where {} >= %s").format(query, sql.Identifier(watermark_column))
        params = (since,)
    copy_sql = sql.SQL("copy ({}) to stdout (format csv, header, null '\\N')").format(query)
    buf = io.BytesIO()
    with pg.cursor() as cur, cur.copy(copy_sql, params) as copy:
        for chunk in copy:
            buf.write(chunk)
    if buf.tell() == 0:
        return pl.DataFrame(schema=schema)
    frame = pl.read_csv(
        buf.getvalue(), schema=schema, null_values="\\N", empty_string_is_null=False
    )
    ts_cols = [name for name, dtype in columns if dtype in _TS_TYPES]
    return frame.with_columns(
        pl.col(c).cast(pl.Datetime("us")).dt.replace_time_zone("UTC") for c in ts_cols
    )


def merge(duck: duckdb.DuckDBPyConnection, target: str, frame: pl.DataFrame, key: str) -> int:
    """Upsert `frame` into `raw.<target>` by `key`; returns the rows that really changed."""
    duck.register("_incoming", frame)
    try:
        exists = duck.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'raw' and table_name = ?",
            [target],
        ).fetchall()
        qualified = f'raw."{target}"'
        if exists[0][0] == 0:
            duck.execute(f"create table {qualified} as select * from _incoming")
            return frame.height
        have = {
            str(r[0])
            for r in duck.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'raw' and table_name = ?",
                [target],
            ).fetchall()
        }
        for name, dtype in duck.execute(
            "select column_name, column_type from (describe _incoming)"
        ).fetchall():
            if name not in have:
                duck.execute(f'alter table {qualified} add column "{name}" {dtype}')
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        keys = f'"{key}"'
        duck.execute(
            f"create or replace temp table _changed as select {cols} from _incoming"
            f" except select {cols} from {qualified}"
            f" where {keys} in (select {keys} from _incoming)"
        )
        row = duck.execute("select count(*) from _changed").fetchall()
        changed = int(row[0][0])
        if changed:
            duck.execute(f"delete from {qualified} where {keys} in (select {keys} from _changed)")
            duck.execute(f"insert into {qualified} by name select * from _changed")
        duck.execute("drop table if exists _changed")
        return changed
    finally:
        duck.unregister("_incoming")


def open_transactions_since(pg: psycopg.Connection[tuple[object, ...]]) -> datetime | None:
    """The earliest ``now()`` a row not yet committed could carry; None if unknowable.

    That is the start of the oldest transaction open in this database, or the present
    moment when none is (a transaction starting later stamps a later time). Only a role
    that sees every session's ``xact_start`` can know it.
    """
    row = pg.execute(
        "select (select rolsuper or pg_has_role(current_user, 'pg_read_all_stats', 'member')"
        "        from pg_roles where rolname = current_user),"
        " least(statement_timestamp(), (select min(xact_start) from pg_stat_activity"
        "  where datname = current_database() and pid <> pg_backend_pid()))"
    ).fetchone()
    if row is None or not row[0] or not isinstance(row[1], datetime):
        return None
    return row[1]


def ingest(
    pg: psycopg.Connection[tuple[object, ...]],
    duck: duckdb.DuckDBPyConnection,
    sources: tuple[SourceTable, ...] = SOURCES,
    lookback: timedelta = timedelta(minutes=10),
    lookback_ids: int = 10_000,
    now: datetime | None = None,
) -> IngestReport:
    """Bring every source table up to date in the warehouse; see the module docstring."""
    ensure_meta(duck)
    now = now or datetime.now(UTC)
    report = IngestReport()
    for source in sources:
        columns = _columns(pg, source.name)
        if not columns:
            log.info("ingest: table %s does not exist (yet); skipped", source.name)
            report.tables.append(TableResult(source.name, "missing"))
            continue
        types = dict(columns)
        wm_col = next((c for c in source.watermark_candidates if c in types), None)
        state = duck.execute(
            "select watermark_column, watermark_ts, watermark_id from meta.ingest_state"
            " where table_name = ?",
            [source.name],
        ).fetchall()
        # The stored watermark is where this run starts reading (see the module docstring).
        since: datetime | int | None = None
        if state and state[0][0] == wm_col:
            since = state[0][1] if state[0][1] is not None else state[0][2]
        open_since = open_transactions_since(pg) if wm_col and types[wm_col] in _TS_TYPES else None
        frame = read_table(pg, source.name, columns, wm_col, since)
        changed = merge(duck, source.name, frame, source.key)
        seen = frame[wm_col].max() if wm_col and frame.height else None
        watermark = _next_since(since, seen, open_since, lookback, lookback_ids)
        total = int(duck.execute(f'select count(*) from raw."{source.name}"').fetchall()[0][0])
        duck.execute(
            "insert or replace into meta.ingest_state values (?, ?, ?, ?, ?, ?)",
            [
                source.name,
                wm_col,
                watermark if isinstance(watermark, datetime) else None,
                watermark if isinstance(watermark, int) else None,
                total,
                now,
            ],
        )
        report.tables.append(
            TableResult(source.name, "ingested", frame.height, changed, total, wm_col, watermark)
        )
        log.info(
            "ingest: %s read %d changed %d total %d", source.name, frame.height, changed, total
        )
    return report


def _next_since(
    since: datetime | int | None,
    seen: object,
    open_since: datetime | None,
    lookback: timedelta,
    lookback_ids: int,
) -> datetime | int | None:
    """Where the next run starts reading: never later than a row still to commit."""
    if isinstance(seen, datetime):
        candidate = min(seen, open_since) if open_since is not None else seen - lookback
        return max(candidate, since) if isinstance(since, datetime) else candidate
    if isinstance(seen, int):
        candidate_id = seen - lookback_ids
        return max(candidate_id, since) if isinstance(since, int) else candidate_id
    return since
