"""The DuckDB warehouse: writing frames into it, and the empty shapes of sources not there yet.

Schemas: ``raw`` (the service's tables, see `ingest.py`), ``platform`` (the drop
folder), ``servicenow`` (the imported history, as exported), ``synthetic`` (the generated
history), ``seeds`` (CSV files under ``dbt_like_sql/seeds``), ``meta`` (ingest state,
digests of snapshot sources, incremental marts' state); SQL models are tables in
``main`` named after their file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import polars as pl

from pipelines.servicenow_export import EXPECTED_COLUMNS

# The columns the SQL models read from each source, with their warehouse types. A source
# that has not arrived yet (a migration not applied, no file dropped, no generated
# history) is created empty with these, so every model still runs; when the source
# arrives its rows and any further columns replace or join these.
SOURCE_SHAPES: dict[str, dict[str, str]] = {
    "raw.incidents": {
        "incident_id": "varchar", "title": "varchar", "description": "varchar",
        "severity": "varchar", "status": "varchar", "affected_services": "varchar",
        "assigned_team": "varchar", "assignee": "varchar", "created_by": "varchar",
        "created_at": "timestamptz", "updated_at": "timestamptz",
        "acknowledged_at": "timestamptz", "resolved_at": "timestamptz",
        "closed_at": "timestamptz", "reopen_count": "bigint",
        "merged_into": "varchar", "merged_at": "timestamptz",
    },
    "raw.incident_timeline": {
        "id": "bigint", "incident_id": "varchar", "kind": "varchar", "actor": "varchar",
        "from_status": "varchar", "to_status": "varchar", "note": "varchar",
        "details": "varchar", "occurred_at": "timestamptz",
    },
    "raw.automated_responses": {
        "response_id": "varchar", "incident_id": "varchar", "action_type": "varchar",
        "execution_status": "varchar", "executed_at": "timestamptz",
        "started_at": "timestamptz", "created_at": "timestamptz", "last_error": "varchar",
    },
    "raw.alerts": {
        "id": "bigint", "incident_id": "varchar", "dedup_key": "varchar", "action": "varchar",
        "summary": "varchar", "severity": "varchar", "source": "varchar",
        "received_at": "timestamptz",
    },
    "raw.integration_links": {
        "id": "bigint", "incident_id": "varchar", "system": "varchar", "remote_id": "varchar",
        "remote_key": "varchar", "remote_url": "varchar", "created_at": "timestamptz",
    },
    "raw.integration_syncs": {
        "sync_id": "varchar", "incident_id": "varchar", "system": "varchar",
        "action": "varchar", "status": "varchar", "attempts": "bigint",
        "last_error": "varchar", "created_at": "timestamptz", "updated_at": "timestamptz",
    },
    "raw.incident_escalations": {
        "incident_id": "varchar", "level": "bigint", "round": "bigint",
        "last_escalated_at": "timestamptz", "updated_at": "timestamptz",
    },
    "raw.escalation_notifications": {
        "id": "bigint", "incident_id": "varchar", "level": "bigint", "recipient": "varchar",
        "channel": "varchar", "delivery_status": "varchar", "created_at": "timestamptz",
        "delivered_at": "timestamptz",
    },
    "raw.incident_updates": {
        "id": "bigint", "incident_id": "varchar", "status": "varchar", "severity": "varchar",
        "incident_status": "varchar", "posted_by": "varchar", "posted_by_user_id": "varchar",
        "posted_at": "timestamptz",
    },
    "raw.update_reminders": {
        "id": "bigint", "incident_id": "varchar", "due_at": "timestamptz",
        "raised_at": "timestamptz", "recipient_type": "varchar",
    },
    "raw.incident_role_assignments": {
        "id": "bigint", "incident_id": "varchar", "role": "varchar", "user_id": "varchar",
        "assumed_at": "timestamptz", "relieved_at": "timestamptz",
    },
    "raw.follow_ups": {
        "id": "varchar", "incident_id": "varchar", "owner_id": "varchar",
        "priority": "varchar", "state": "varchar", "source": "varchar",
        "due_at": "timestamptz", "completed_at": "timestamptz", "external_key": "varchar",
        "created_at": "timestamptz", "updated_at": "timestamptz",
    },
    "platform.teams": {"team": "varchar", "utc_offset_h": "integer"},
    "platform.services": {
        "service": "varchar", "team": "varchar", "tier": "integer", "depends_on": "varchar[]",
    },
    "platform.deploys": {
        "deploy_id": "varchar", "service": "varchar", "deployed_at": "timestamptz",
        "change_type": "varchar",
    },
    "platform.alerts": {
        "alert_id": "varchar", "service": "varchar", "received_at": "timestamptz",
        "severity": "varchar", "summary": "varchar",
    },
    "synthetic.teams": {"team": "varchar", "utc_offset_h": "integer"},
    "synthetic.services": {
        "service": "varchar", "team": "varchar", "tier": "integer", "depends_on": "varchar[]",
    },
    "synthetic.deploys": {
        "deploy_id": "varchar", "service": "varchar", "deployed_at": "timestamptz",
        "change_type": "varchar",
    },
    "synthetic.incidents": {
        "incident_id": "varchar", "title": "varchar", "severity": "varchar",
        "status": "varchar", "service": "varchar", "affected_services": "varchar[]",
        "assigned_team": "varchar", "assignee": "varchar", "created_by": "varchar",
        "created_at": "timestamptz", "acknowledged_at": "timestamptz",
        "updated_at": "timestamptz", "resolved_at": "timestamptz", "closed_at": "timestamptz",
        "reopen_count": "integer", "caused_by_deploy_id": "varchar",
    },
}  # fmt: skip
SOURCE_SHAPES["servicenow.incident_events"] = {
    "_row": "bigint",
    **{column: "varchar" for column in EXPECTED_COLUMNS},
    "_source": "varchar",
}


def connect(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (creating) the warehouse file; ``:memory:`` for a throwaway one."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    # Timestamps are compared and bucketed in UTC everywhere (weeks start Monday 00:00 UTC).
    conn.execute("set timezone = 'UTC'")
    return conn


def snapshot_path(path: Path | str) -> Path:
    """Where the readers' copy of the warehouse at `path` is published:
    ``warehouse.duckdb`` -> ``warehouse.snapshot.duckdb`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.snapshot{path.suffix}")


def publish_snapshot(duck: duckdb.DuckDBPyConnection, path: Path | str) -> Path:
    """Publish the warehouse at `path`, open as `duck` (its writer), for readers.

    DuckDB gives a file one writing process and refuses any other process, readers
    included, while it holds the file; so notebooks read a copy. Checkpointed first (the
    file then holds every committed change, the write-ahead log none), copied while the
    writer still holds the file (no other writer can change it under the copy), then
    renamed over the previous copy: a reader opens either the old copy or the new one,
    never a half-written file, and one that has the old one open keeps reading it.
    """
    target = snapshot_path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    duck.execute("checkpoint")
    try:
        shutil.copyfile(path, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def ensure_sources(duck: duckdb.DuckDBPyConnection) -> list[str]:
    """Create each missing source as an empty table of its shape; returns those created."""
    created = []
    existing = {
        f"{s}.{t}"
        for s, t in duck.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    for qualified, columns in SOURCE_SHAPES.items():
        if qualified in existing:
            continue
        schema = qualified.split(".")[0]
        duck.execute(f"create schema if not exists {schema}")
        cols = ", ".join(f'"{name}" {dtype}' for name, dtype in columns.items())
        duck.execute(f"create table {qualified} ({cols})")
        created.append(qualified)
    return created


def replace_table(duck: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame) -> int:
    """Replace ``schema.table`` with `frame` (a snapshot source); returns its row count.

    Records a digest of the content in ``meta.snapshots``: incremental marts rebuild in
    full when a snapshot they read changed, and only then (the synthetic history and the
    seeds are rewritten by every run, mostly unchanged)."""
    schema = qualified.split(".")[0]
    duck.execute(f"create schema if not exists {schema}")
    duck.register("_frame", frame)
    try:
        duck.execute(f"create or replace table {qualified} as select * from _frame")
    finally:
        duck.unregister("_frame")
    # Row hashes summed: independent of row order; the schema and height guard the rest.
    digest = f"{frame.height}:{int(frame.hash_rows(seed=0).sum())}:{frame.schema}"
    duck.execute("create schema if not exists meta")
    duck.execute(
        "create table if not exists meta.snapshots"
        " (table_name varchar primary key, digest varchar, replaced_at timestamptz)"
    )
    duck.execute("insert or replace into meta.snapshots values (?, ?, now())", [qualified, digest])
    return frame.height


def snapshot_digest(duck: duckdb.DuckDBPyConnection, qualified: str) -> str:
    """What `replace_table` recorded for the table; for a table written otherwise (an
    empty shape from `ensure_sources`, a test's own rows) its row count, which is all
    that can be had without reading it."""
    if not _has_table(duck, *qualified.split(".", 1)):
        return "missing"
    if _has_table(duck, "meta", "snapshots"):
        recorded = duck.execute(
            "select digest from meta.snapshots where table_name = ?", [qualified]
        ).fetchall()
        if recorded:
            return str(recorded[0][0])
    return f"rows:{duck.execute(f'select count(*) from {qualified}').fetchall()[0][0]}"


def _has_table(duck: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    found = duck.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(found[0][0])
