"""The `incident_model` asset: the warehouse's incidents mapped as the API maps them, and
real materializations on a small generated history into a throwaway database: the first
version is registered and promoted, an identical rerun does not beat it, and too little
history is skipped with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from models import registry
from models.service_records import SERVICE_MODEL, opened_from_service
from pipelines import assets, warehouse
from pipelines.ml import history
from pipelines.ml.assets import incident_model
from pipelines.resources import PostgresResource, SourcesResource, WarehouseResource
from testkit.databases import migrated_database
from tests.pipelines.factories import insert_incident

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def test_warehouse_rows_become_the_served_models_inputs_and_targets() -> None:
    duck = warehouse.connect(":memory:")
    duck.execute("create schema raw")
    # raw.* holds jsonb as its text form, as the ingest writes it.
    duck.execute(
        "create table raw.incidents (incident_id varchar, title varchar, description varchar,"
        " severity varchar, status varchar, affected_services varchar, assigned_team varchar,"
        " created_by varchar, labels varchar, created_at timestamptz,"
        " resolved_at timestamptz, closed_at timestamptz)"
    )
    rows = [
        ("A", "Checkout down", "5xx", "SEV1_CRITICAL", "RESOLVED", '["checkout"]', "pay",
         "alice", '{"env": "prod"}', T0, T0 + timedelta(hours=2), None),
        ("B", "Slow search", "", "SEV3_MEDIUM", "INVESTIGATING", '["search"]', "find",
         "bob", "{}", T0 + timedelta(hours=1), None, None),
        # Reopened after a resolution: running again, so censored.
        ("C", "Queue backlog", "", "SEV2_HIGH", "OPEN", "[]", "pay", "carol", "{}",
         T0 + timedelta(hours=2), None, None),
        # Resolved after the moment trained as of: still open then.
        ("D", "Disk full", "", "SEV4_LOW", "RESOLVED", '["db"]', "ops", "dan", "{}",
         T0 + timedelta(hours=3), T0 + timedelta(hours=30), None),
        # Opened after that moment: not known then.
        ("E", "Later", "", "SEV4_LOW", "OPEN", "[]", "ops", "eve", "{}",
         T0 + timedelta(hours=11), None, None),
    ]  # fmt: skip
    for row in rows:
        duck.execute("insert into raw.incidents values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    # No synthetic history in this warehouse: the source is simply absent.
    as_of = T0 + timedelta(hours=10)
    found = history.build_history(history.read_rows(duck, as_of), as_of)
    h = found.history
    assert [inc.text for inc in h.incidents] == [
        "Checkout down\n5xx",
        "Slow search",
        "Queue backlog",
        "Disk full",
    ]
    # The same OpenedIncident the API builds from the incident's row.
    assert h.incidents[0] == opened_from_service(
        {
            "created_at": T0,
            "title": "Checkout down",
            "description": "5xx",
            "assigned_team": "pay",
            "created_by": "alice",
            "labels": {"env": "prod"},
            "affected_services": ["checkout"],
        }
    )
    assert h.outcomes.severity.tolist() == [0, 2, 1, 3]
    assert h.outcomes.observed.tolist() == [True, False, False, False]
    assert h.outcomes.duration_hours.tolist() == [2.0, 9.0, 8.0, 7.0]
    assert found.teams == ["pay", "find", "pay", "ops"]
    assert found.services == [("checkout",), ("search",), (), ("db",)]
    # A bounded run takes the latest incidents opened by then.
    latest = history.build_history(history.read_rows(duck, as_of, limit=2), as_of, 2)
    assert [inc.text for inc in latest.history.incidents] == ["Queue backlog", "Disk full"]


def test_too_little_history_or_one_severity_is_a_reason_not_a_split() -> None:
    duck = warehouse.connect(":memory:")
    duck.execute("create schema raw")
    duck.execute(
        "create table raw.incidents as select 'I-' || i as incident_id, 't' as title,"
        " 'SEV3_MEDIUM' as severity, 'RESOLVED' as status, '[]' as affected_services,"
        " 'team' as assigned_team, 'x' as created_by,"
        " timestamptz '2025-01-06' + to_hours(i) as created_at,"
        " timestamptz '2025-01-06' + to_hours(i) + to_minutes(30) as resolved_at"
        " from range(400) t(i)"
    )
    as_of = T0 + timedelta(days=30)
    whole = history.build_history(history.read_rows(duck, as_of), as_of).history
    assert history.time_split(whole, 0.2, 500, 10).reason == (
        "400 resolved incidents; at least 500 needed"
    )
    assert history.time_split(whole, 0.2, 300, 100).reason.startswith(
        "80 incidents resolved in the evaluation window"
    )
    assert history.time_split(whole, 0.2, 300, 50).reason == (
        "every training incident has the same severity"
    )


# Tiny networks and few epochs: the run is real, only small.
FAST = {
    "seed": 0,
    "max_epochs": 3,
    "patience": 1,
    "ensemble": 1,
    "hidden": 8,
    "hash_dim": 512,
    "censored_weights": [0.0],
    "test_fraction": 0.25,
    "min_resolved": 200,
    "min_test_resolved": 30,
    "as_of": "2025-03-01T00:00:00+00:00",
}


@pytest.fixture(scope="module")
def service_db(server_url: str) -> Iterator[str]:
    with migrated_database(server_url, "incident_model_test") as url:
        with psycopg.connect(url, autocommit=True) as pg:
            # The service's own incidents, among the generated ones (ingested for real).
            for day in range(0, 30, 2):
                insert_incident(pg, "svc-team", created_at=T0 + timedelta(days=day, hours=5))
        yield url


@pytest.fixture(scope="module")
def resources(service_db: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("incident_model")
    return {
        "postgres": PostgresResource(database_url=service_db),
        "warehouse_db": WarehouseResource(path=str(folder / "warehouse.duckdb")),
        "sources": SourcesResource(
            platform_dir=str(folder / "platform"),
            synthetic_incidents=800,
            synthetic_seed=3,
            synthetic_days=30,
        ),
    }


def _train(resources: dict[str, Any], **overrides: object) -> dict[str, Any]:
    result = dg.materialize(
        [assets.service_tables, assets.synthetic_history, incident_model],
        resources=resources,
        run_config={"ops": {"incident_model": {"config": FAST | overrides}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    found = result.asset_materializations_for_node("incident_model")[0].metadata
    return {k: v.value for k, v in found.items()}


def _versions(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as pg:
        return [(v.version, v.status) for v in registry.versions(pg, SERVICE_MODEL)]


def test_too_little_history_is_skipped_with_the_reason(
    resources: dict[str, Any], service_db: str
) -> None:
    before = _versions(service_db)
    meta = _train(resources, min_resolved=100_000)
    assert meta["status"] == "skipped"
    assert meta["reason"].endswith("resolved incidents; at least 100000 needed")
    assert meta["incidents"] == 815
    assert _versions(service_db) == before


def test_first_version_is_promoted_and_an_identical_rerun_is_not(
    resources: dict[str, Any], service_db: str
) -> None:
    first = _train(resources)
    assert first["status"] == "promoted", first["reason"]
    assert first["reason"] == "no active version"
    assert first["promoted"] is True
    assert first["test_resolved"] >= 30
    assert "| jax (this model) |" in first["metrics"]
    assert "| hist_gradient_boosting |" in first["metrics"]
    assert "| lifelines_aft |" in first["metrics"]
    v1 = first["version"]
    with psycopg.connect(service_db) as pg:
        stored = registry.versions(pg, SERVICE_MODEL)[0]
        assert registry.active(pg, SERVICE_MODEL) is not None
    assert (stored.version, stored.status) == (v1, "active")
    # What the calibration report's drift bands are drawn around.
    assert 0.0 <= stored.metrics["calibration"]["ece"] <= 1.0
    assert "svc-team" in stored.metrics["inputs"]["teams"]
    assert "checkout_service" in stored.metrics["inputs"]["services"]

    # Same history, same seed: the same model, which does not beat the active one.
    second = _train(resources)
    assert second["status"] == "candidate"
    assert second["reason"].startswith("no better than the active version")
    assert second["version"] == v1 + 1
    assert second["active_version"] == v1
    assert second["active_macro_f1"] == second["macro_f1"]
    assert _versions(service_db)[:2] == [(v1 + 1, "candidate"), (v1, "active")]
