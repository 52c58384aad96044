"""The served model's assets: `incident_model` (train, register, promote when better) and
`model_calibration_report` (its predictions against what happened, and drift).

Thin callers of `pipelines.ml.training` and `pipelines.ml.calibration_report`.
JAX and the training code are imported inside the asset, so loading the code location
stays light.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from models.config import get_config
from pipelines.resources import (
    WAREHOUSE_POOL,
    PostgresResource,
    ReportsResource,
    WarehouseResource,
)

_DEFAULTS = get_config()
GROUP = "models"


class IncidentModelConfig(dg.Config):  # type: ignore[misc]
    """Run configuration of `incident_model` (defaults: `models.config.get_config()`)."""

    seed: int = _DEFAULTS.seed
    max_epochs: int = _DEFAULTS.max_epochs
    patience: int = _DEFAULTS.patience
    ensemble: int = _DEFAULTS.ensemble
    hidden: int = _DEFAULTS.hidden
    hash_dim: int = _DEFAULTS.hash_dim
    censored_weights: list[float] = Field(default_factory=lambda: list(_DEFAULTS.censored_weights))
    test_fraction: float = Field(
        default=0.2, description="the latest share of incidents, by opening, judged on"
    )
    min_resolved: int = Field(
        default=300, description="fewer resolved incidents to train on: skip the run"
    )
    min_test_resolved: int = Field(
        default=50, description="fewer resolved in the evaluation window: skip the run"
    )
    max_incidents: int = Field(
        default=50_000, description="train and evaluate on at most the latest this many"
    )
    as_of: str = Field(
        default="", description="ISO 8601 moment to train as of ('' for the run's start)"
    )


def _moment(text: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dg.asset(
    deps=[dg.AssetKey(["raw", "incidents"]), dg.AssetKey(["synthetic", "incidents"])],
    group_name=GROUP,
    kinds={"jax", "postgres"},
    pool=WAREHOUSE_POOL,
)
def incident_model(
    context: dg.AssetExecutionContext,
    config: IncidentModelConfig,
    postgres: PostgresResource,
    warehouse_db: WarehouseResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The model the API serves (SERVING_MODEL_NAME), trained on the service's incidents (and
    the synthetic history when present), registered, and promoted when it beats the active
    version on the evaluation window. Too little history: skipped, with the reason."""
    from pipelines.ml import history, training

    as_of = _moment(config.as_of)
    with warehouse_db.connect() as duck:
        rows = history.read_rows(duck, as_of, config.max_incidents)
    service = history.build_history(rows, as_of, config.max_incidents)
    model_config = get_config().replace(
        seed=config.seed,
        max_epochs=config.max_epochs,
        patience=config.patience,
        ensemble=config.ensemble,
        hidden=config.hidden,
        hash_dim=config.hash_dim,
        censored_weights=tuple(config.censored_weights),
    )
    thresholds = training.Thresholds(
        config.test_fraction, config.min_resolved, config.min_test_resolved
    )
    name = postgres.serving_model_name
    context.log.info(
        "training %s as of %s on %d incidents",
        name,
        as_of.isoformat(),
        len(service.history),
    )
    outcome = training.train_and_register(
        postgres.connect,
        service,
        model_config,
        thresholds,
        actor=f"dagster:{context.run.run_id}",
        name=name,
    )
    metadata: dict[str, Any] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "model": name,
        "as_of": as_of.isoformat(),
        "incidents": len(service.history),
        "resolved": int(service.history.outcomes.observed.sum()),
    }
    if outcome.status == "skipped":
        context.log.warning("%s not trained: %s", name, outcome.reason)
        return dg.MaterializeResult(metadata=metadata)
    metadata |= {
        "version": outcome.version,
        "promoted": outcome.status == "promoted",
        "active_version": outcome.active_version,
        "metrics": dg.MetadataValue.md(outcome.table),
        **training.summary(outcome),
    }
    if outcome.incumbent is not None:
        metadata["active_macro_f1"] = outcome.incumbent["severity"]["macro_f1"]
        metadata["active_mae_hours"] = outcome.incumbent["ttr"]["mae_hours"]
    return dg.MaterializeResult(metadata=metadata)


class CalibrationReportConfig(dg.Config):  # type: ignore[misc]
    weeks: int = Field(default=12, description="weeks of predictions the report covers")
    coverage_band: float = 0.10
    ece_band: float = 0.05
    unseen_share: float = 0.20
    min_incidents: int = 30


@dg.asset(group_name=GROUP, kinds={"html", "markdown", "postgres"})
def model_calibration_report(
    config: CalibrationReportConfig, postgres: PostgresResource, reports: ReportsResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The served model's predictions at creation against what happened: calibration of the
    severity probabilities, coverage of the time-to-resolve interval, per version and week,
    and drift flags. Read from PostgreSQL (`incident_predictions`, `model_versions`)."""
    from pipelines.ml import calibration, calibration_report

    now = datetime.now(UTC)
    with postgres.connect() as pg:
        scored, references = calibration_report.read_scored(
            pg, postgres.serving_model_name, calibration_report.since(now, config.weeks)
        )
    bands = calibration.Bands(
        config.coverage_band, config.ece_band, config.unseen_share, config.min_incidents
    )
    report = calibration_report.build(scored, references, postgres.serving_model_name, now, bands)
    paths = calibration_report.write(report, reports.folder)
    overall: dict[str, Any] = report.overall.to_json() if report.overall else {}
    return dg.MaterializeResult(
        metadata={
            "title": report.title,
            "files": ", ".join(p.name for p in paths),
            "scored": report.scored,
            "resolved": int(scored.resolved.sum()),
            "ece": overall.get("ece"),
            "brier": overall.get("brier"),
            "coverage_p10_p90": overall.get("coverage_p10_p90"),
            "mae_p50_hours": overall.get("mae_p50_hours"),
            "drift_week": report.drift.week.date().isoformat() if report.drift.week else None,
            "drift_flags": dg.MetadataValue.json([f.to_json() for f in report.drift.flags]),
            "drifting": bool(report.drift.flags),
            "summary": dg.MetadataValue.md(report.markdown[:20000]),
        }
    )
