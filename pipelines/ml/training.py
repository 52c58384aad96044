"""Training the served model from the warehouse and registering it: what the
`incident_model` asset does, as a plain function.

The version registered is exactly the artifact that was evaluated: trained on the earlier
part of the history (outcomes as of the cut-off) and judged on the later window, where the
active version is judged too. It is promoted only when it beats the active one there
(`models.registry.promote_if_better`); otherwise it stays stored as a candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg

from models import registry
from models.config import ModelConfig
from models.evaluate import (
    EvalData,
    evaluate_artifact,
    metrics_table,
    public_json,
    train_evaluate_artifact,
)
from models.features import featurize_many
from models.service_records import SERVICE_MODEL
from models.serving import QUANTILES, Artifact
from models.survival import quantiles
from pipelines.ml import calibration
from pipelines.ml.history import ServiceHistory, time_split


@dataclass(frozen=True)
class Thresholds:
    """How much history a run needs, and how much of it is the evaluation window."""

    test_fraction: float = 0.2
    min_resolved: int = 300
    min_test_resolved: int = 50


@dataclass(frozen=True)
class Outcome:
    """What a training run did. `status`: 'skipped', 'promoted' or 'candidate'."""

    status: str
    reason: str
    version: int | None = None
    metrics: dict[str, Any] | None = None
    table: str = ""
    incumbent: dict[str, Any] | None = None
    active_version: int | None = None


def evaluation_figures(artifact: Artifact, data: EvalData) -> calibration.Figures:
    """Calibration and interval figures of `artifact` on the evaluation window's resolved
    incidents: the reference the calibration report's drift bands are drawn around."""
    test = data.test
    x = featurize_many(test.incidents, artifact.spec)
    proba = artifact.severity_proba(x)
    q = quantiles(artifact.ttr_pmf(x), artifact.edges, QUANTILES)
    o = test.outcomes
    r = o.observed
    return calibration.figures(
        proba[r], o.severity[r], q[r, 0], q[r, 1], q[r, 2], o.duration_hours[r]
    )


def _inputs(service: ServiceHistory, rows: int) -> dict[str, list[str]]:
    """Teams and services among the first `rows` incidents (the training window)."""
    return {
        "teams": sorted(set(service.teams[:rows])),
        "services": sorted({s for svc in service.services[:rows] for s in svc}),
    }


def train_and_register(
    connect: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
    service: ServiceHistory,
    config: ModelConfig,
    thresholds: Thresholds,
    actor: str,
    name: str = SERVICE_MODEL,
) -> Outcome:
    """Split, train, evaluate against the baselines and the active version, register, and
    promote when better; or skip, saying why, when the history is too thin.

    `connect` opens the service's database; only once the model is trained (training takes
    minutes, a connection has no business idling through them)."""
    split = time_split(
        service.history,
        thresholds.test_fraction,
        thresholds.min_resolved,
        thresholds.min_test_resolved,
    )
    if split.data is None:
        return Outcome("skipped", split.reason)
    data = split.data
    artifact, metrics = train_evaluate_artifact(config, data)
    own = {"severity": metrics["severity"], "ttr": metrics["ttr"]}
    stored: dict[str, Any] = {
        **public_json(metrics),
        "windows": metrics["windows"],
        "train_seconds": metrics["train_seconds"],
        "calibration": evaluation_figures(artifact, data).to_json(),
        "inputs": _inputs(service, split.train_rows),
        # Per class, calibration, coverage and the quality gate the policies obey.
        "evaluation": metrics["evaluation"],
        "gate": metrics["gate"],
    }
    first = data.train.incidents[0].opened_at
    window: tuple[datetime | None, datetime | None, datetime] = (
        first,
        data.train.incidents[-1].opened_at,
        data.train.as_of,
    )
    with connect() as conn, conn.transaction():
        version = registry.register(conn, artifact, stored, window, actor, name)
        current = registry.active(conn, name)
        # The active version is judged on this run's evaluation window, like the candidate.
        incumbent = evaluate_artifact(current[1], data.test) if current else None
        decision = registry.promote_if_better(conn, version, own, incumbent, actor, name)
    return Outcome(
        "promoted" if decision.promote else "candidate",
        decision.reason,
        version,
        stored,
        metrics_table(metrics),
        incumbent,
        version if decision.promote else (current[0] if current else None),
    )


def summary(outcome: Outcome) -> dict[str, Any]:
    """Flat figures for the asset's metadata."""
    if outcome.metrics is None:
        return {}
    sev, ttr = outcome.metrics["severity"], outcome.metrics["ttr"]
    cal = outcome.metrics["calibration"]
    windows = outcome.metrics["windows"]
    found: dict[str, Any] = {
        "macro_f1": sev["macro_f1"],
        "auc_high": sev["auc_high"],
        "mae_hours": ttr["mae_hours"],
        "coverage_p10_p90": ttr["coverage_p10_p90"],
        "c_index": ttr["c_index"],
        "ece": cal["ece"],
        "brier": cal["brier"],
        "train_incidents": windows["train_incidents"],
        "test_incidents": windows["test_incidents"],
        "test_resolved": windows["test_resolved"],
        "train_seconds": outcome.metrics["train_seconds"],
    }
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in found.items()
    }
