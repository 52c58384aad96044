"""What a model version is worth on its evaluation window, and whether it may drive policies.

`evaluation(...)` records, per version, the figures a person needs before trusting its
predictions: per-class precision/recall/F1 and how often each severity is suggested,
calibration of the probabilities the policies read (reliability bins, expected calibration
error, Brier score), p10-p90 coverage, and how much the predictions vary at all.

`gate(evaluation)` applies fixed thresholds (`GATE`, documented in docs/models.md). A
version that fails them is still served (its predictions are shown and stored) but the
response policies do not act on them: a model that says nearly the same thing about every
incident, or whose probabilities are far off, must not page anyone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.metrics import severity_metrics, ttr_metrics
from models.records import SEVERITIES, IncidentHistory

BINS = 10


@dataclass(frozen=True)
class GateThresholds:
    """The quality gate. Why each: a model must (1) tell severities apart better than always
    answering the commonest one, (2) rank high-severity incidents above the rest, (3) not
    give the same answer to nearly every incident, (4) have probabilities close to observed
    frequencies, since policies compare them with fixed numbers, (5) rank times to resolve
    and (6) give p10-p90 intervals that hold about as often as they claim."""

    # (1) macro-F1 at least this much above the majority-class answer on the same window.
    min_macro_f1_gain: float = 0.03
    # (2) AUC of P(SEV1)+P(SEV2) against the rest.
    min_auc_high: float = 0.60
    # (3) The commonest suggested severity on at most this share of incidents, and the
    #     predicted median time to resolve spread by at least this (std of log1p hours).
    max_top_suggestion_share: float = 0.98
    min_p50_log_spread: float = 0.15
    # (4) Expected calibration error of P(SEV1)+P(SEV2) (10 equal-width bins).
    max_ece_high: float = 0.10
    # (5) Harrell's C of the predicted median.
    min_c_index: float = 0.55
    # (6) p10-p90 coverage band over the resolved incidents (nominal 0.80).
    coverage_band: tuple[float, float] = (0.60, 0.95)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


GATE = GateThresholds()


def reliability(
    p: NDArray[np.float64], hit: NDArray[np.bool_], bins: int = BINS
) -> tuple[list[dict[str, float]], float]:
    """Reliability bins (mean predicted, observed frequency, count) and the count-weighted
    expected calibration error of probabilities `p` for events `hit`."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        rows = which == b
        n = int(rows.sum())
        if n == 0:
            continue
        predicted, observed = float(p[rows].mean()), float(hit[rows].mean())
        table.append({"predicted": predicted, "observed": observed, "count": n})
        ece += n / max(len(p), 1) * abs(predicted - observed)
    return table, float(ece)


def majority_macro_f1(labels: NDArray[np.int64]) -> float:
    """Macro-F1 of always answering the commonest class (the floor any model must clear)."""
    counts = np.bincount(labels, minlength=len(SEVERITIES))
    share = counts.max() / max(len(labels), 1)
    return float(2 * share / (1 + share) / len(SEVERITIES))


def evaluation(
    test: IncidentHistory,
    proba: NDArray[np.float64],
    pred: NDArray[np.int64],
    p10: NDArray[np.float64],
    p50: NDArray[np.float64],
    p90: NDArray[np.float64],
) -> dict[str, Any]:
    """Per-class figures, calibration, coverage and spread of one model on one window."""
    o = test.outcomes
    y = o.severity
    per_class = {}
    for c, name in enumerate(SEVERITIES):
        tp = int(np.sum((pred == c) & (y == c)))
        support, predicted = int(np.sum(y == c)), int(np.sum(pred == c))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "predicted": predicted,
        }
    high = proba[:, 0] + proba[:, 1]
    bins, ece_high = reliability(high, y <= 1)
    class_ece = {name: reliability(proba[:, c], y == c)[1] for c, name in enumerate(SEVERITIES)}
    onehot = np.eye(len(SEVERITIES))[y]
    ttr = ttr_metrics(o.duration_hours, o.observed, p10, p50, p90)
    share = np.bincount(pred, minlength=len(SEVERITIES)) / max(len(pred), 1)
    return {
        "incidents": len(test),
        "resolved": int(o.observed.sum()),
        "severity": severity_metrics(y, proba, pred),
        "majority_macro_f1": majority_macro_f1(y),
        "per_class": per_class,
        "calibration": {
            "high_severity_bins": bins,
            "ece_high": ece_high,
            "ece_by_class": class_ece,
            "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        },
        "ttr": ttr,
        "spread": {
            "top_suggestion_share": float(share.max()),
            "p50_log_std": float(np.std(np.log1p(p50))),
            "high_probability_std": float(np.std(high)),
        },
    }


def gate(ev: dict[str, Any], thresholds: GateThresholds = GATE) -> dict[str, Any]:
    """{"passed", "checks": {name: {"value", "limit", "ok"}}, "failed": [names], "thresholds"}."""
    sev, ttr, spread = ev["severity"], ev["ttr"], ev["spread"]
    lo, hi = thresholds.coverage_band
    coverage = ttr["coverage_p10_p90"]
    floor = ev["majority_macro_f1"] + thresholds.min_macro_f1_gain
    checks = {
        "macro_f1": (sev["macro_f1"], floor, sev["macro_f1"] >= floor),
        "auc_high": (sev["auc_high"], thresholds.min_auc_high, None),
        "top_suggestion_share": (
            spread["top_suggestion_share"],
            thresholds.max_top_suggestion_share,
            spread["top_suggestion_share"] <= thresholds.max_top_suggestion_share,
        ),
        "p50_log_std": (spread["p50_log_std"], thresholds.min_p50_log_spread, None),
        "ece_high": (
            ev["calibration"]["ece_high"],
            thresholds.max_ece_high,
            ev["calibration"]["ece_high"] <= thresholds.max_ece_high,
        ),
        "c_index": (ttr["c_index"], thresholds.min_c_index, None),
        "coverage_p10_p90": (coverage, [lo, hi], None),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (value, limit, ok) in checks.items():
        if ok is None:  # "at least" checks, and the coverage band
            if isinstance(limit, list):
                ok = _finite(value) and limit[0] <= value <= limit[1]
            else:
                ok = _finite(value) and value >= limit
        out[name] = {"value": _json(value), "limit": limit, "ok": bool(ok and _finite(value))}
    failed = [k for k, v in out.items() if not v["ok"]]
    return {
        "passed": not failed,
        "checks": out,
        "failed": failed,
        "thresholds": thresholds.to_json(),
    }


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _json(v: object) -> object:
    return v if _finite(v) else None
