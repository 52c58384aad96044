"""Migrations: applied once, idempotent, safe when several replicas start together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from incident_service.db import with_database
from incident_service.migrate import MIGRATIONS_DIR, apply_migrations
from testkit.databases import create_database, drop_database


def test_concurrent_replicas_apply_each_migration_once(server_url: str) -> None:
    name = create_database(server_url, "incident_migrate")
    url = with_database(server_url, name)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda _: apply_migrations(url), range(6)))
        expected = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql") if ".rollback" not in p.name)
        applied = [ids for ids in results if ids]
        assert applied == [expected], results
        assert apply_migrations(url) == []
        with psycopg.connect(url) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "select table_name from information_schema.tables where table_schema = 'public'"
                )
            }
        assert {
            "incidents",
            "automated_responses",
            "incident_timeline",
            "outbox",
            "idempotency_keys",
        } <= tables
    finally:
        drop_database(server_url, name)
