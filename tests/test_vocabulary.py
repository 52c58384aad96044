"""The vocabulary of severities and statuses is the one the database checks."""

from __future__ import annotations

import re

import psycopg
import pytest

from incident_service.migrate import MIGRATIONS_DIR
from incident_service.vocabulary import CHECKED, check_constraints


def test_the_newest_vocabulary_migration_is_the_generators_output() -> None:
    writers = sorted(
        p
        for p in MIGRATIONS_DIR.glob("*.sql")
        if ".rollback" not in p.name and "add constraint incidents_severity_check" in p.read_text()
    )
    assert writers, "no migration writes the vocabulary's checks"
    assert check_constraints() in writers[-1].read_text(), (
        f"{writers[-1].name} differs from vocabulary.check_constraints(): generate a new migration"
    )


@pytest.mark.parametrize(("table", "name", "column", "vocabulary"), CHECKED)
def test_the_live_check_allows_exactly_the_vocabulary(
    database_url: str, table: str, name: str, column: str, vocabulary: type
) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select pg_get_constraintdef(c.oid) from pg_constraint c"
            " join pg_class t on t.oid = c.conrelid where t.relname = %s and c.conname = %s",
            (table, name),
        ).fetchone()
    assert row is not None, f"{table} has no constraint {name}"
    assert column in row[0]
    assert re.findall(r"'([^']*)'", row[0]) == [v.value for v in vocabulary]
