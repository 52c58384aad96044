"""The hot statements stay inside psycopg's parse cache (a longer statement is re-parsed
with a regular expression on every execution: about 6% of a create's CPU)."""

from __future__ import annotations

import psycopg._queries

from incident_service.db import PSYCOPG_CACHED_STATEMENT_CHARS, compact_sql
from incident_service.incidents import repository


def test_our_limit_is_psycopgs() -> None:
    assert psycopg._queries.MAX_CACHED_STATEMENT_LENGTH == PSYCOPG_CACHED_STATEMENT_CHARS


def test_create_and_status_change_are_cached_by_psycopg() -> None:
    for statement in (repository._CREATE, repository._CHANGE_STATUS):
        assert len(statement) < PSYCOPG_CACHED_STATEMENT_CHARS


def test_compact_sql_drops_indentation_and_comment_lines_only() -> None:
    sql = """
        with a as (
            -- why this CTE
            select 'two  spaces' as x, 1 -- trailing comment kept
        )
        select * from a
    """
    assert compact_sql(sql) == (
        "with a as (\nselect 'two  spaces' as x, 1 -- trailing comment kept\n)\nselect * from a"
    )
