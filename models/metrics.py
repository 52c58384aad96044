"""The metrics every model and baseline is judged by (same code for all of them)."""

from __future__ import annotations

import math

import numpy as np
from lifelines.utils import concordance_index
from numpy.typing import NDArray
from sklearn.metrics import f1_score, recall_score, roc_auc_score

from models.records import SEVERITIES


def severity_metrics(
    y_true: NDArray[np.int64], proba: NDArray[np.float64] | None, y_pred: NDArray[np.int64]
) -> dict[str, object]:
    """macro-F1 and per-class recall of `y_pred`; AUC of SEV1+SEV2 vs the rest from `proba`.

    proba: (n, 4) class probabilities, or None for a model without scores (AUC is then 0.5).
    """
    labels = list(range(len(SEVERITIES)))
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    high = (y_true <= 1).astype(int)
    if proba is None or high.min() == high.max():
        auc = 0.5
    else:
        auc = float(roc_auc_score(high, proba[:, 0] + proba[:, 1]))
    return {
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "auc_high": auc,
        "recall": {name: float(r) for name, r in zip(SEVERITIES, recalls, strict=True)},
    }


def ttr_metrics(
    duration: NDArray[np.float64],
    observed: NDArray[np.bool_],
    p10: NDArray[np.float64],
    p50: NDArray[np.float64],
    p90: NDArray[np.float64],
) -> dict[str, float]:
    """Errors of the predicted median over resolved incidents; concordance with censoring.

    MAE, median absolute error, log-RMSE (of log1p hours) and p10-p90 coverage are taken
    over the incidents resolved in the window (a censored time has no error to measure);
    the concordance index uses every incident, censored ones included (Harrell's C).
    """
    d, m = duration[observed], p50[observed]
    err = np.abs(d - m)
    c_index = (
        float(concordance_index(duration, p50, observed))
        if observed.any() and len(np.unique(p50)) > 1
        else 0.5
    )
    return {
        "mae_hours": float(err.mean()) if err.size else math.nan,
        "median_ae_hours": float(np.median(err)) if err.size else math.nan,
        "log_rmse": float(np.sqrt(np.mean((np.log1p(d) - np.log1p(m)) ** 2)))
        if err.size
        else math.nan,
        "c_index": c_index,
        "coverage_p10_p90": float(np.mean((d >= p10[observed]) & (d <= p90[observed])))
        if err.size
        else math.nan,
    }
