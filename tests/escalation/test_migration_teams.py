"""Migration 0070: existing schedules take the team of the policies that use them (a copy
per extra team when several teams share one), unused ones stay unassigned (team null), and
the rollback restores globally unique names."""

from __future__ import annotations

import json

import psycopg
from yoyo import get_backend, read_migrations

from incident_service.db import with_database
from incident_service.migrate import MIGRATIONS_DIR, _yoyo_uri
from testkit.databases import create_database, drop_database

TEAMS = "0070_schedule_teams"
LAYERS = json.dumps(
    [{"name": "p", "rotation": "daily", "participants": ["ann"], "starts": "2024-01-01"}]
)


def _levels(*schedule_ids: str) -> str:
    first = {"delay_minutes": 5, "targets": [{"type": "schedule", "id": s} for s in schedule_ids]}
    return json.dumps([first, {"delay_minutes": 5, "targets": [{"type": "person", "id": "boss"}]}])


def test_schedules_get_their_policies_team(server_url: str) -> None:
    name = create_database(server_url, "incident_m0070")
    url = with_database(server_url, name)
    try:
        backend = get_backend(_yoyo_uri(url))
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id < TEAMS)))
        with psycopg.connect(url) as conn:
            ids = {}
            for schedule in ("shared", "own", "unused"):
                ids[schedule] = str(
                    conn.execute(
                        "insert into oncall_schedules (name, timezone, layers, updated_by)"
                        " values (%s, 'UTC', %s, 'x') returning id",
                        (schedule, LAYERS),
                    ).fetchone()[0]  # type: ignore[index]
                )
            conn.execute(
                "insert into oncall_overrides (schedule_id, person, starts_at, ends_at, created_by)"
                " values (%s, 'carol', '2030-01-01', '2030-01-02', 'x'),"
                " (%s, 'far', '9999-12-31T00:00:00+00', '10000-01-01T09:59:59+00', 'x'),"
                " (%s, 'long', '2030-01-01T00:00:00+00', '10000-01-01T09:59:59+00', 'x')",
                (ids["shared"], ids["own"], ids["own"]),
            )
            for team, levels in (
                ("alpha", _levels(ids["shared"], ids["own"])),
                ("beta", _levels(ids["shared"])),
            ):
                conn.execute(
                    "insert into escalation_policies (team, name, levels, updated_by)"
                    " values (%s, 'p', %s, 'x')",
                    (team, levels),
                )
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
        with psycopg.connect(url) as conn:
            rows = conn.execute("select id::text, name, team from oncall_schedules").fetchall()
            by_id = {r[0]: (r[1], r[2]) for r in rows}
            assert by_id[ids["shared"]] == ("shared", "alpha")
            assert by_id[ids["own"]] == ("own", "alpha")
            assert by_id[ids["unused"]] == ("unused", None)
            (copy,) = [i for i, (n, t) in by_id.items() if (n, t) == ("shared", "beta")]
            beta = conn.execute("select levels from escalation_policies where team = 'beta'")
            levels = beta.fetchone()[0]  # type: ignore[index]
            assert levels[0]["targets"] == [{"type": "schedule", "id": copy}]
            assert levels[1]["targets"] == [{"type": "person", "id": "boss"}]
            alpha = conn.execute("select levels from escalation_policies where team = 'alpha'")
            targets = alpha.fetchone()[0][0]["targets"]  # type: ignore[index]
            assert [t["id"] for t in targets] == [ids["shared"], ids["own"]]
            overrides = conn.execute(
                "select person from oncall_overrides where schedule_id = %s", (copy,)
            ).fetchall()
            assert overrides == [("carol",)]
            # Far spans: clipped to the accepted range (readable again), or gone.
            clipped = conn.execute(
                "select person, ends_at = '2200-01-01T00:00:00Z' from oncall_overrides"
                " where schedule_id = %s",
                (ids["own"],),
            ).fetchall()
            assert clipped == [("long", True)]

        with backend.lock():
            backend.rollback_migrations(
                backend.to_rollback(migrations.filter(lambda m: m.id == TEAMS))
            )
        with psycopg.connect(url) as conn:
            names = sorted(r[0] for r in conn.execute("select name from oncall_schedules"))
            assert names == ["own", "shared", "shared (beta)", "unused"]
            columns = {
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_name = 'oncall_schedules'"
                )
            }
            assert "team" not in columns
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
    finally:
        drop_database(server_url, name)
