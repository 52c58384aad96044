"""Incremental ingest from PostgreSQL into DuckDB: exactly the changes, re-runs change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from pipelines.ingest import SourceTable, ingest
from tests.pipelines.factories import insert_incident


@pytest.fixture
def pg(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield conn
    conn.close()


def _count(duck: duckdb.DuckDBPyConnection, sql: str, *params: object) -> int:
    row = duck.execute(sql, list(params)).fetchone()
    assert row is not None
    return int(row[0])


def test_incremental_ingest_picks_up_exactly_the_changes(pg, duck, team: str) -> None:
    first_ids = [insert_incident(pg, team) for _ in range(3)]
    report = ingest(pg, duck).by_table()
    assert report["incidents"].status == "ingested"
    assert report["incidents"].watermark_column == "updated_at"
    assert _count(duck, "select count(*) from raw.incidents where assigned_team = ?", team) == 3
    assert (
        _count(
            duck,
            "select count(*) from raw.incident_timeline where incident_id in (?, ?, ?)",
            *first_ids,
        )
        == 9
    )

    # A re-run with nothing new changes nothing.
    again = ingest(pg, duck)
    assert again.by_table()["incidents"].changed == 0
    assert again.by_table()["incident_timeline"].changed == 0

    # Two new incidents, one update of an old one, and one late commit: a transaction
    # that stamps updated_at (its start) before an ingest runs but commits after it.
    late = psycopg.connect(pg.info.dsn)
    late.execute(
        "update incidents set assignee = 'late-bob', updated_at = now() where incident_id = %s",
        (first_ids[1],),
    )
    new_ids = [insert_incident(pg, team, resolved_after=None) for _ in range(2)]
    pg.execute(
        "update incidents set status = 'CLOSED', closed_at = now(), updated_at = now()"
        " where incident_id = %s",
        (first_ids[0],),
    )
    between = ingest(pg, duck).by_table()
    assert between["incidents"].changed == 3  # the late transaction is not committed yet
    late.commit()
    late.close()
    third = ingest(pg, duck).by_table()
    assert third["incidents"].changed == 1  # the late commit, older than what was seen
    assert between["incident_timeline"].changed == 4  # created + acknowledged, twice
    rows = dict(
        duck.execute(
            "select incident_id, status from raw.incidents where assigned_team = ?", [team]
        ).fetchall()
    )
    assert rows[first_ids[0]] == "CLOSED"
    assert set(new_ids) <= set(rows)
    assert duck.execute(
        "select assignee from raw.incidents where incident_id = ?", [first_ids[1]]
    ).fetchone() == ("late-bob",)
    # Keys stay unique after merging updates.
    assert _count(duck, "select count(*) - count(distinct incident_id) from raw.incidents") == 0
    assert ingest(pg, duck).changed == 0


def test_missing_table_is_reported_and_ingested_once_it_exists(pg, duck) -> None:
    name = f"later_{datetime.now(UTC):%H%M%S%f}"
    sources = (SourceTable(name, "id", ("updated_at",)),)
    assert ingest(pg, duck, sources).tables[0].status == "missing"
    pg.execute(
        f"create table {name} (id bigint primary key, v text, updated_at timestamptz"
        " not null default now())"
    )
    try:
        pg.execute(f"insert into {name} (id, v) values (1, 'a'), (2, '')")
        result = ingest(pg, duck, sources).tables[0]
        assert (result.status, result.read, result.changed) == ("ingested", 2, 2)
        # A column added by a later migration appears in the warehouse.
        pg.execute(f"alter table {name} add column extra integer")
        pg.execute(f"update {name} set extra = 7, updated_at = now() where id = 2")
        assert ingest(pg, duck, sources).tables[0].changed == 1
        assert duck.execute(f"select v, extra from raw.{name} order by id").fetchall() == [
            ("a", None),
            ("", 7),
        ]
    finally:
        pg.execute(f"drop table {name}")


def test_next_read_point_never_passes_an_open_transaction() -> None:
    from pipelines.ingest import _next_since

    t = datetime(2025, 1, 1, 12, tzinfo=UTC)
    lookback = timedelta(minutes=10)
    # An open transaction that began before the newest row seen holds the point back.
    assert _next_since(None, t, t - timedelta(hours=1), lookback, 100) == t - timedelta(hours=1)
    assert _next_since(None, t, t + timedelta(seconds=5), lookback, 100) == t
    # Without sight of other sessions, a fixed look-back; the point never moves backwards.
    assert _next_since(None, t, None, lookback, 100) == t - lookback
    assert _next_since(t, t, None, lookback, 100) == t
    assert _next_since(t, None, None, lookback, 100) == t
    assert _next_since(500, 1000, None, lookback, 100) == 900
