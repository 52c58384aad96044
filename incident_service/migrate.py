"""Applies the versioned SQL files in `migrations/` with yoyo, the same way everywhere.

Several replicas may start at once: each takes one PostgreSQL advisory lock before touching
the schema, so exactly one applies what is pending and the others then find nothing to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# An arbitrary constant shared by every replica of this service ("incident" in hex-ish).
_LOCK_ID = 0x1_4C1D_E4E7


def _yoyo_uri(url: str) -> str:
    """yoyo selects its psycopg 3 backend by the `postgresql+psycopg` scheme."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    msg = "DATABASE_URL must be a postgresql:// URL"
    raise ValueError(msg)


def apply_migrations(url: str) -> list[str]:
    """Apply every pending migration; returns the ids applied (empty when up to date)."""
    with psycopg.connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("select pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            backend = get_backend(_yoyo_uri(url))
            migrations = read_migrations(str(MIGRATIONS_DIR))
            with backend.lock():
                pending = backend.to_apply(migrations)
                ids = [m.id for m in pending]
                if ids:
                    log.debug("applying migrations: %s", ", ".join(ids))
                    backend.apply_migrations(pending)
            backend.connection.close()
            return ids
        finally:
            lock_conn.execute("select pg_advisory_unlock(%s)", (_LOCK_ID,))
