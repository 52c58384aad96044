"""`train_and_evaluate`: the JAX models and every baseline, trained on one window and judged
on a later one, in the JSON shape `incident-service models evaluate-servicenow` prints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from models import baselines, quality, servicenow_history
from models.config import ModelConfig
from models.features import featurize_many
from models.metrics import severity_metrics, ttr_metrics
from models.records import IncidentHistory
from models.serving import QUANTILES, Artifact
from models.survival import quantiles
from models.train import Progress, fit


@dataclass(frozen=True)
class EvalData:
    """A training window and a later test window (test outcomes as of its own moment)."""

    train: IncidentHistory
    test: IncidentHistory


def _ttr_block(test: IncidentHistory, out: baselines.TtrOutput) -> dict[str, float]:
    o = test.outcomes
    return ttr_metrics(o.duration_hours, o.observed, out.p10, out.p50, out.p90)


def evaluate_artifact(artifact: Artifact, test: IncidentHistory) -> dict[str, object]:
    """Severity and time-to-resolve metrics of a trained artifact on a test window."""
    x = featurize_many(test.incidents, artifact.spec)
    proba = artifact.severity_proba(x)
    q = quantiles(artifact.ttr_pmf(x), artifact.edges, QUANTILES)
    out = baselines.TtrOutput(q[:, 0], q[:, 1], q[:, 2])
    return {
        "severity": severity_metrics(test.outcomes.severity, proba, artifact.suggested(proba)),
        "ttr": _ttr_block(test, out),
    }


def version_evaluation(artifact: Artifact, test: IncidentHistory) -> dict[str, Any]:
    """What a registered version records about itself (`quality.evaluation`: per class,
    calibration, coverage, spread) and its quality gate, on its evaluation window."""
    x = featurize_many(test.incidents, artifact.spec)
    proba = artifact.severity_proba(x)
    q = quantiles(artifact.ttr_pmf(x), artifact.edges, QUANTILES)
    found = quality.evaluation(test, proba, artifact.suggested(proba), q[:, 0], q[:, 1], q[:, 2])
    return {"evaluation": _finite(found), "gate": quality.gate(found)}


def train_and_evaluate(
    config: ModelConfig, data: EvalData, progress: Progress | None = None
) -> dict[str, object]:
    """Train on `data.train`, evaluate everything on `data.test`; returns the metrics JSON."""
    return train_evaluate_artifact(config, data, progress)[1]


def train_evaluate_artifact(
    config: ModelConfig, data: EvalData, progress: Progress | None = None
) -> tuple[Artifact, dict[str, object]]:
    """`train_and_evaluate`, also returning the trained artifact (for the registry)."""
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    artifact = fit(config, data.train, say)
    train_seconds = time.perf_counter() - started
    result = evaluate_artifact(artifact, data.test)
    own = version_evaluation(artifact, data.test)
    test = data.test
    # One thread for the baselines: scikit-learn's OpenMP workers spin-wait, and on a busy
    # shared machine that made the trees ten times slower, not faster.
    with threadpool_limits(limits=1):
        found = _baselines(config, data, say)
    return artifact, {
        **result,
        "baselines": found,
        "windows": {
            "train_incidents": len(data.train),
            "train_opened": [_day(data.train, 0), _day(data.train, -1)],
            "train_as_of": data.train.as_of.isoformat(),
            "test_incidents": len(test),
            "test_resolved": int(test.outcomes.observed.sum()),
            "test_opened": [_day(test, 0), _day(test, -1)],
            "test_as_of": test.as_of.isoformat(),
        },
        "train_seconds": round(train_seconds, 1),
        **own,
    }


def _baselines(config: ModelConfig, data: EvalData, say: Progress) -> dict[str, dict[str, object]]:
    """Every named baseline, trained on data.train and measured on data.test."""
    test, y = data.test, data.test.outcomes.severity

    def sev(out: baselines.SeverityOutput) -> dict[str, object]:
        return severity_metrics(y, out.proba, out.pred)

    say("baselines: majority class, training median")
    found: dict[str, dict[str, object]] = {
        "majority_class": {
            "severity": sev(baselines.majority_class(data.train, test)),
            "ttr": None,
        },
        "training_median": {
            "severity": None,
            "ttr": _ttr_block(test, baselines.training_median(data.train, test)),
        },
    }
    say("baseline: hist_gradient_boosting")
    hgb_plain, hgb_tuned = baselines.hgb_severity(
        data.train, test, config.validation_fraction, config.seed
    )
    found["hist_gradient_boosting"] = {
        "severity": sev(hgb_plain),
        "ttr": _ttr_block(test, baselines.hgb_ttr(data.train, test, config.seed)),
    }
    found["hist_gradient_boosting_tuned"] = {"severity": sev(hgb_tuned), "ttr": None}
    say("baseline: lifelines_aft")
    found["lifelines_aft"] = {
        "severity": None,
        "ttr": _ttr_block(test, baselines.lifelines_aft(data.train, test)),
    }
    return found


def _day(history: IncidentHistory, i: int) -> str | None:
    if not history.incidents:
        return None
    return history.incidents[i].opened_at.isoformat()


def later_than(history: IncidentHistory, moment: datetime) -> IncidentHistory:
    """The incidents of `history` opened at or after `moment`."""
    return history.take(history.opened() >= np.datetime64(moment, "s"))


def servicenow_exports(train_events: pl.DataFrame, test_events: pl.DataFrame) -> EvalData:
    """Train on one export; test on the incidents of another opened after the first was taken.

    The test export may repeat the training one's history (a later export of the same
    instance): that history still counts for the recent-load features, never as a test case.
    """
    train = servicenow_history.to_history(train_events)
    test = later_than(servicenow_history.to_history(test_events), train.as_of)
    return EvalData(train, test)


def servicenow_time_split(events: pl.DataFrame, cutoff: datetime) -> EvalData:
    """One export split at `cutoff`: the instance as it stood then, and what opened after."""
    train = servicenow_history.to_history(servicenow_history.as_of(events, cutoff), cutoff)
    test = later_than(servicenow_history.to_history(events), cutoff)
    return EvalData(train, test)


PUBLIC_KEYS = ("severity", "ttr", "baselines")


def public_json(metrics: dict[str, object]) -> dict[str, object]:
    """Exactly {"severity", "ttr", "baselines"}, with NaN (nothing to measure) as null."""
    return {k: _finite(metrics[k]) for k in PUBLIC_KEYS}


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def metrics_table(metrics: dict[str, Any]) -> str:
    """One Markdown table: the JAX models and every baseline, every metric."""
    header = (
        "| model | macro-F1 | AUC SEV1+2 | recall SEV1/2/3/4 | MAE h | median AE h |"
        " log-RMSE | C-index | p10-p90 coverage |"
    )
    lines = [header, "|" + " --- |" * 9]
    rows = [("jax (this model)", metrics), *metrics["baselines"].items()]
    for name, block in rows:
        sev, ttr = block.get("severity"), block.get("ttr")
        cells = [name]
        if sev:
            recall = "/".join(f"{r:.2f}" for r in sev["recall"].values())
            cells += [f"{sev['macro_f1']:.3f}", f"{sev['auc_high']:.3f}", recall]
        else:
            cells += ["", "", ""]
        if ttr:
            cells += [
                f"{ttr['mae_hours']:.1f}",
                f"{ttr['median_ae_hours']:.1f}",
                f"{ttr['log_rmse']:.2f}",
                f"{ttr['c_index']:.3f}",
                f"{ttr['coverage_p10_p90']:.2f}",
            ]
        else:
            cells += [""] * 5
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
