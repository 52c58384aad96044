"""One Dagster asset per SQL model file, with dependencies read from the SQL, and one
asset check per data test (plus the key checks on the service's raw tables)."""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
import hashlib

import dagster as dg

from pipelines import sql_transforms
from pipelines.resources import WAREHOUSE_POOL, WarehouseResource


def source_key(qualified: str) -> dg.AssetKey:
    """``raw.incidents`` -> the asset ``raw/incidents`` that loads it."""
    return dg.AssetKey(qualified.split("."))


def _model_asset(model: sql_transforms.SqlModel) -> dg.AssetsDefinition:
    deps = [dg.AssetKey(d) for d in model.depends_on] + [source_key(s) for s in model.sources]

    @dg.asset(
        name=model.name,
        deps=deps,
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        description=f"dbt_like_sql/{model.layer}/{model.path.name}",
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:16],
    )
    def _build(warehouse_db: WarehouseResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
        with warehouse_db.connect() as duck:
            done = sql_transforms.refresh(duck, model)
        metadata: dict[str, str | int] = {"materialized_as": model.materialized, "build": done.mode}
        if done.rows is not None:
            metadata["rows"] = done.rows
        if done.mode in ("incremental", "unchanged"):
            metadata["weeks_rebuilt"] = len(done.weeks)
        return dg.MaterializeResult(metadata=metadata)

    return _build


def _test_check(test: sql_transforms.DataTest, order: list[str]) -> dg.AssetChecksDefinition:
    # A test reading several models belongs to the last one built.
    target = max(test.models, key=order.index)
    others = [dg.AssetKey(m) for m in test.models if m != target]

    @dg.asset_check(
        asset=dg.AssetKey(target),
        name=test.name,
        description=f"dbt_like_sql/tests/{test.path.name}: must return no rows",
        additional_deps=others,
        blocking=True,
        pool=WAREHOUSE_POOL,
    )
    def _check(warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse_db.connect() as duck:
            result = sql_transforms.run_test(duck, test)
        return dg.AssetCheckResult(
            passed=result.passed,
            metadata={"failing_rows": result.failing_rows, "sample": repr(result.sample)},
        )

    return _check


# Checks on the service's own tables as they land: unique keys, required values,
# accepted enums, timestamps in lifecycle order.
RAW_CHECKS: dict[str, dict[str, str]] = {
    "incidents": {
        "unique_incident_id": "select incident_id from raw.incidents"
        " group by incident_id having count(*) > 1",
        "not_null": "select incident_id from raw.incidents where incident_id is null"
        " or severity is null or status is null or created_at is null",
        "accepted_values": "select incident_id from raw.incidents where severity not in"
        " ('SEV1_CRITICAL', 'SEV2_HIGH', 'SEV3_MEDIUM', 'SEV4_LOW') or status not in"
        " ('OPEN', 'ACKNOWLEDGED', 'INVESTIGATING', 'IDENTIFIED', 'MONITORING',"
        " 'RESOLVED', 'CLOSED', 'MERGED')",
        # A merged incident names the incident it was merged into, and only a merged one.
        "merged_has_target": "select incident_id from raw.incidents"
        " where (status = 'MERGED') <> (merged_into is not null)",
        "timestamps_in_order": "select incident_id from raw.incidents"
        " where acknowledged_at < created_at or resolved_at < created_at"
        " or closed_at < resolved_at or updated_at < created_at",
    },
    "incident_timeline": {
        "unique_id": "select id from raw.incident_timeline group by id having count(*) > 1",
        "not_null": "select id from raw.incident_timeline where incident_id is null"
        " or kind is null or occurred_at is null",
        "known_incident": "select t.id from raw.incident_timeline t"
        " anti join raw.incidents i using (incident_id)",
    },
    "automated_responses": {
        "unique_response_id": "select response_id from raw.automated_responses"
        " group by response_id having count(*) > 1",
        "accepted_status": "select response_id from raw.automated_responses"
        " where lower(execution_status) not in"
        " ('pending', 'in_progress', 'succeeded', 'failed', 'skipped')",
    },
    "alerts": {
        "unique_id": "select id from raw.alerts group by id having count(*) > 1",
    },
    "integration_links": {
        "unique_id": "select id from raw.integration_links group by id having count(*) > 1",
    },
}


def _raw_check(table: str, name: str, query: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", table]), name=name, description=query, pool=WAREHOUSE_POOL
    )
    def _check(warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
        test = sql_transforms.DataTest(f"raw_{table}__{name}", sql_transforms.SQL_ROOT, query, ())
        with warehouse_db.connect() as duck:
            result = sql_transforms.run_test(duck, test)
        return dg.AssetCheckResult(
            passed=result.passed,
            metadata={"failing_rows": result.failing_rows, "sample": repr(result.sample)},
        )

    return _check


def build() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """The SQL model assets and every asset check."""
    models = sql_transforms.discover()
    order = sql_transforms.run_order(models)
    assets = [_model_asset(models[name]) for name in order]
    checks = [_test_check(t, order) for t in sql_transforms.discover_tests()]
    checks += [_raw_check(t, n, q) for t, named in RAW_CHECKS.items() for n, q in named.items()]
    return assets, checks
