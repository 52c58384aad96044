"""The named baselines, fitted on the same training window and the same at-open facts.

- majority_class (severity) and training_median (time to resolve): what a model must beat.
- hist_gradient_boosting: scikit-learn's gradient-boosted trees, on a tabular encoding of the
  same incidents (categorical fields as native categories), with balanced class weights;
  reported twice, with the arg-max and with decision offsets tuned for macro-F1 on the
  validation window (`hist_gradient_boosting_tuned`); quantile losses (0.1, 0.5, 0.9) of
  log1p hours over resolved training incidents for time to resolve.
- lifelines_aft: lifelines' log-normal accelerated failure time model (censoring-aware),
  on a one-hot encoding of the most frequent values of the same fields plus the numbers.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import LogNormalAFTFitter
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from models.records import SEVERITIES, IncidentHistory, OpenedIncident

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SeverityOutput:
    proba: FloatArray | None  # (n, 4)
    pred: NDArray[np.int64]  # (n,)


@dataclass(frozen=True)
class TtrOutput:
    p10: FloatArray
    p50: FloatArray
    p90: FloatArray


class Tabular:
    """A dense encoding of incidents learnt from a training window (for the baselines)."""

    def __init__(self, train: list[OpenedIncident], max_categories: int = 250) -> None:
        self.fields = sorted({k for inc in train for k in inc.fields})
        self.numeric = sorted({k for inc in train for k in inc.numeric})
        self.recent = sorted({k for inc in train for k in inc.recent})
        self.vocab: dict[str, dict[str, int]] = {}
        for f in [*self.fields, "service"]:
            values = (
                [s for inc in train for s in inc.services[:1]]
                if f == "service"
                else [inc.fields[f] for inc in train if f in inc.fields]
            )
            common = [v for v, _ in Counter(values).most_common(max_categories - 1)]
            self.vocab[f] = {v: i for i, v in enumerate(common)}

    def codes(self, incidents: list[OpenedIncident]) -> tuple[FloatArray, list[str]]:
        """(n, m) matrix: category codes (rare values share the last code, missing NaN),
        then numbers, recent counts, hour and weekday; and the column names."""
        cats = [*self.fields, "service"]
        names = [*cats, *self.numeric, *self.recent, "hour", "weekday"]
        out = np.full((len(incidents), len(names)), np.nan)
        for i, inc in enumerate(incidents):
            for j, f in enumerate(cats):
                value = (
                    (inc.services[0] if inc.services else None)
                    if f == "service"
                    else inc.fields.get(f)
                )
                if value is not None:
                    out[i, j] = self.vocab[f].get(value, len(self.vocab[f]))
            base = len(cats)
            for j, f in enumerate(self.numeric):
                if f in inc.numeric:
                    out[i, base + j] = inc.numeric[f]
            base += len(self.numeric)
            for j, f in enumerate(self.recent):
                out[i, base + j] = inc.recent.get(f, 0)
            out[i, -2] = inc.opened_at.hour
            out[i, -1] = inc.opened_at.weekday()
        return out, names

    @property
    def n_categorical(self) -> int:
        return len(self.fields) + 1

    def one_hot(self, incidents: list[OpenedIncident], top: int = 8) -> pd.DataFrame:
        """Indicators of each field's `top` most frequent values, log1p numbers with flags."""
        codes, names = self.codes(incidents)
        cols: dict[str, FloatArray] = {}
        k = self.n_categorical
        for j in range(k):
            for c in range(min(top, len(self.vocab[names[j]]))):
                cols[f"{names[j]}={c}"] = (codes[:, j] == c).astype(float)
        for j in range(k, codes.shape[1] - 2):
            present = ~np.isnan(codes[:, j])
            cols[names[j]] = np.log1p(np.clip(np.nan_to_num(codes[:, j]), 0, None))
            # Always emitted (same columns for every window); constant ones are dropped later.
            cols[f"{names[j]}_present"] = present.astype(float)
        hour = codes[:, -2]
        cols["hour_sin"] = np.sin(2 * math.pi * hour / 24)
        cols["hour_cos"] = np.cos(2 * math.pi * hour / 24)
        cols["weekend"] = (codes[:, -1] >= 5).astype(float)
        return pd.DataFrame(cols)


def majority_class(train: IncidentHistory, test: IncidentHistory) -> SeverityOutput:
    majority = int(np.bincount(train.outcomes.severity, minlength=len(SEVERITIES)).argmax())
    proba = np.zeros((len(test), len(SEVERITIES)))
    proba[:, majority] = 1.0
    return SeverityOutput(proba, np.full(len(test), majority, dtype=np.int64))


def training_median(train: IncidentHistory, test: IncidentHistory) -> TtrOutput:
    resolved = train.outcomes.duration_hours[train.outcomes.observed]
    p10, p50, p90 = np.quantile(resolved, [0.1, 0.5, 0.9])
    n = len(test)
    return TtrOutput(np.full(n, p10), np.full(n, p50), np.full(n, p90))


def hgb_severity(
    train: IncidentHistory, test: IncidentHistory, valid_fraction: float, seed: int
) -> tuple[SeverityOutput, SeverityOutput]:
    """Gradient-boosted trees with balanced class weights, refit on the whole window.

    Returns two decision rules on the same probabilities: the arg-max, and the arg-max
    after offsets tuned for macro-F1 on the validation window (by a model fitted before it).
    """
    from models.train import tune_offsets

    tab = Tabular(train.incidents)
    x, _ = tab.codes(train.incidents)
    y = train.outcomes.severity
    cat = np.arange(x.shape[1]) < tab.n_categorical
    n_valid = max(int(len(y) * valid_fraction), 1)

    def model() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            categorical_features=cat,
            class_weight="balanced",
            max_iter=100,
            early_stopping=False,
            random_state=seed,
        )

    tuner = model().fit(x[:-n_valid], y[:-n_valid])
    offsets = tune_offsets(_full_proba(tuner, x[-n_valid:]), y[-n_valid:])
    final = model().fit(x, y)
    proba = _full_proba(final, tab.codes(test.incidents)[0])
    tuned = np.argmax(np.log(proba + 1e-12) + offsets, axis=1).astype(np.int64)
    return SeverityOutput(proba, proba.argmax(axis=1).astype(np.int64)), SeverityOutput(
        proba, tuned
    )


def _full_proba(model: HistGradientBoostingClassifier, x: FloatArray) -> FloatArray:
    """(n, 4) probabilities, with zero columns for classes the model never saw."""
    out = np.zeros((x.shape[0], len(SEVERITIES)))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def hgb_ttr(train: IncidentHistory, test: IncidentHistory, seed: int) -> TtrOutput:
    tab = Tabular(train.incidents)
    obs = train.outcomes.observed
    x, _ = tab.codes(train.incidents)
    xt, _ = tab.codes(test.incidents)
    y = np.log1p(train.outcomes.duration_hours[obs])
    cat = np.arange(x.shape[1]) < tab.n_categorical
    preds = []
    for q in (0.1, 0.5, 0.9):
        reg = HistGradientBoostingRegressor(
            loss="quantile",
            quantile=q,
            categorical_features=cat,
            max_iter=100,
            random_state=seed,
        ).fit(x[obs], y)
        preds.append(np.expm1(np.clip(reg.predict(xt), 0.0, None)))
    p10, p50, p90 = preds
    return TtrOutput(np.minimum(p10, p50), p50, np.maximum(p90, p50))


def lifelines_aft(train: IncidentHistory, test: IncidentHistory) -> TtrOutput:
    tab = Tabular(train.incidents)
    x = tab.one_hot(train.incidents)
    keep = [c for c in x.columns if x[c].std() > 0]
    mean, std = x[keep].mean(), x[keep].std()
    frame = ((x[keep] - mean) / std).assign(
        # lifelines needs strictly positive durations.
        T=np.maximum(train.outcomes.duration_hours, 1.0 / 60),
        E=train.outcomes.observed.astype(int),
    )
    fitter = LogNormalAFTFitter(penalizer=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter.fit(frame, duration_col="T", event_col="E")
    xt = (tab.one_hot(test.incidents)[keep] - mean) / std
    # predict_percentile(p) is the time at which survival falls to p.
    p90 = np.asarray(fitter.predict_percentile(xt, p=0.1), dtype=float).ravel()
    p50 = np.asarray(fitter.predict_percentile(xt, p=0.5), dtype=float).ravel()
    p10 = np.asarray(fitter.predict_percentile(xt, p=0.9), dtype=float).ravel()
    return TtrOutput(p10, p50, p90)
