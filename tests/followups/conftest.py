"""People to own follow-ups: users rows, as migration 0086 defines them."""

from __future__ import annotations

import secrets

import psycopg


def make_user(database_url: str, name: str | None = None, *, deactivated: bool = False) -> str:
    """A user's id (a row in `users`, written directly: no route writes people yet)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into users (name, created_by, deactivated_at)"
            " values (%s, 'tests', case when %s then now() end) returning id::text",
            (name or f"person-{secrets.token_hex(3)}", deactivated),
        ).fetchone()
    assert row is not None
    return str(row[0])
