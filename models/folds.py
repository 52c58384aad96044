"""Rolling-origin evaluation inside one export: forward folds, their mean, spread and wins.

One later window is a noisy judge on drifting data (a handful of critical incidents move
macro-F1 by points), and a window that choices were made on is no judge at all. So every
choice is made on the mean over several forward folds of the *training* export: fold k
trains on everything opened before its cut-off (an expanding window, the instance as it
stood then) and is tested on the incidents opened in the `days` after it, with outcomes as
they stood at the end of those days, exactly as `servicenow_time_split` does for one cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from models import servicenow_history
from models.config import ModelConfig
from models.evaluate import EvalData, servicenow_time_split, train_and_evaluate
from models.train import Progress

# Metric -> (block, key, higher is better). Coverage has a band, not a direction: a fold
# "wins" it by being nearest the nominal 0.80.
METRICS: dict[str, tuple[str, str, bool]] = {
    "macro_f1": ("severity", "macro_f1", True),
    "auc_high": ("severity", "auc_high", True),
    "mae_hours": ("ttr", "mae_hours", False),
    "c_index": ("ttr", "c_index", True),
    "coverage_p10_p90": ("ttr", "coverage_p10_p90", True),
}
COVERAGE_TARGET = 0.8
JAX = "jax"


@dataclass(frozen=True)
class Fold:
    cutoff: datetime
    until: datetime
    data: EvalData


def _next_midnight(t: datetime) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day == t else day + timedelta(days=1)


def fold_cutoffs(end: datetime, n: int, days: float) -> list[tuple[datetime, datetime]]:
    """(cut-off, end of its test window) of `n` folds of `days` each, the last ending at the
    first midnight at or after `end`; oldest first."""
    stop = _next_midnight(end)
    step = timedelta(days=days)
    return [(stop - k * step, stop - (k - 1) * step) for k in range(n, 0, -1)]


def servicenow_folds(events: pl.DataFrame, n: int = 5, days: float = 7.0) -> list[Fold]:
    """`n` forward folds inside one export (see the module doc). A fold whose training or
    test window is empty is left out."""
    end = servicenow_history.export_moment(events)
    folds = []
    for cutoff, until in fold_cutoffs(end, n, days):
        seen = servicenow_history.as_of(events, min(until, end + timedelta(minutes=1)))
        data = servicenow_time_split(seen, cutoff)
        if len(data.train) and len(data.test):
            folds.append(Fold(cutoff, until, data))
    return folds


def fold_metrics(
    config: ModelConfig,
    folds: list[Fold],
    progress: Progress | None = None,
    evaluate: Callable[[ModelConfig, EvalData, Progress | None], dict[str, object]] | None = None,
) -> list[dict[str, object]]:
    """Train and evaluate the JAX models and every baseline on each fold; one JSON per fold
    (the shape of `public_json` plus the fold's cut-off and windows)."""
    from models.evaluate import public_json

    say = progress or (lambda _m: None)
    run = evaluate or train_and_evaluate
    out: list[dict[str, object]] = []
    for i, fold in enumerate(folds, 1):
        say(f"fold {i}/{len(folds)}: cut-off {fold.cutoff:%Y-%m-%d}, to {fold.until:%Y-%m-%d}")
        metrics = run(config, fold.data, lambda m, i=i: say(f"[fold {i}] {m}"))  # type: ignore[misc]
        out.append(
            {
                "cutoff": fold.cutoff.isoformat(),
                "test_until": fold.until.isoformat(),
                **public_json(metrics),
                "windows": metrics.get("windows"),
                "train_seconds": metrics.get("train_seconds"),
            }
        )
    return out


def _per_model(fold: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{model: {metric: value}} of one fold's JSON (missing / null metrics left out)."""
    blocks = {JAX: fold, **fold["baselines"]}
    found: dict[str, dict[str, float]] = {}
    for model, block in blocks.items():
        values = {}
        for metric, (part, key, _) in METRICS.items():
            inner = block.get(part)
            v = inner.get(key) if inner else None
            if isinstance(v, int | float) and math.isfinite(v):
                values[metric] = float(v)
        found[model] = values
    return found


def _better(metric: str, a: float, b: float) -> bool:
    if metric == "coverage_p10_p90":
        return abs(a - COVERAGE_TARGET) < abs(b - COVERAGE_TARGET) - 1e-12
    higher = METRICS[metric][2]
    return a > b + 1e-12 if higher else a < b - 1e-12


def summarize(folds: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """{model: {metric: {mean, std, min, max, wins, folds}}} over the folds.

    `wins`: on how many folds the model was the best of every model measured on that metric
    that fold (a tie counts for each tied model). `std` is the sample spread across folds."""
    per_fold = [_per_model(f) for f in folds]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for metric in METRICS:
        winners: list[set[str]] = []
        for fold in per_fold:
            scored = {m: v[metric] for m, v in fold.items() if metric in v}
            best: set[str] = set()
            for m, v in scored.items():
                if not any(_better(metric, w, v) for w in scored.values()):
                    best.add(m)
            winners.append(best)
        models = sorted({m for fold in per_fold for m, v in fold.items() if metric in v})
        for model in models:
            values = np.array([f[model][metric] for f in per_fold if metric in f.get(model, {})])
            out.setdefault(model, {})[metric] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
                "wins": sum(model in w for w in winners),
                "folds": len(values),
            }
    return out


def bar_check(summary: dict[str, Any], folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the JAX models beat every baseline on the fold mean of macro-F1, AUC, MAE and
    C-index, and keep p10-p90 coverage within 0.70-0.90 on every fold; each check named."""
    checks: dict[str, bool] = {}
    own = summary.get(JAX, {})
    for metric in ("macro_f1", "auc_high", "mae_hours", "c_index"):
        if metric not in own:
            checks[metric] = False
            continue
        rivals = [s[metric]["mean"] for m, s in summary.items() if m != JAX and metric in s]
        checks[metric] = all(_better(metric, own[metric]["mean"], r) for r in rivals)
    coverages = [_per_model(f)[JAX].get("coverage_p10_p90", math.nan) for f in folds]
    checks["coverage_every_fold"] = bool(coverages) and all(0.70 <= c <= 0.90 for c in coverages)
    return {"passed": all(checks.values()), "checks": checks}


def folds_table(summary: dict[str, Any]) -> str:
    """Markdown: per model, each metric as fold mean ± spread (wins / folds)."""
    lines = [
        "| model | macro-F1 | AUC SEV1+2 | MAE h | C-index | p10-p90 coverage |",
        "|" + " --- |" * 6,
    ]
    order = [JAX, *sorted(m for m in summary if m != JAX)]
    for model in order:
        cells = [model]
        for metric in METRICS:
            s = summary.get(model, {}).get(metric)
            if s is None:
                cells.append("")
                continue
            digits = 1 if metric == "mae_hours" else 3
            cells.append(
                f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f} ({s['wins']}/{s['folds']})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_fold_table(folds: list[dict[str, Any]]) -> str:
    """Markdown: one row per fold and model with every headline metric."""
    lines = [
        "| fold (cut-off) | model | macro-F1 | AUC SEV1+2 | MAE h | C-index | coverage |",
        "|" + " --- |" * 7,
    ]
    for fold in folds:
        for model, values in _per_model(fold).items():
            if not values:
                continue
            cells = [fold["cutoff"][:10], model]
            for metric in METRICS:
                v = values.get(metric)
                digits = 1 if metric == "mae_hours" else 3
                cells.append("" if v is None else f"{v:.{digits}f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
