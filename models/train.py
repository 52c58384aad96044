"""Training: `fit(config, history) -> Artifact` and `train_and_evaluate(config, data) -> metrics`.

Both networks are trained on the earlier part of the training window with early stopping
on its last part (the validation window); the severity decision offsets are tuned there
for macro-F1; then both are refit on the whole window for the epochs that were best.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import f1_score

from models.config import ModelConfig
from models.features import FeatureSpec, SparseBatch, featurize_many
from models.nets import (
    Batch,
    Params,
    forward,
    init_params,
    make_eval_loss,
    make_train_step,
)
from models.records import SEVERITIES, IncidentHistory, Outcomes
from models.serving import Artifact, NpParams, softmax
from models.survival import encode, make_edges, quantiles

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TaskData:
    """Inputs and targets of one network (n rows)."""

    x: SparseBatch
    label: NDArray[np.int32]
    weight: NDArray[np.float32]
    frac: NDArray[np.float32]
    observed: NDArray[np.float32]

    def take(self, rows: NDArray[np.int64]) -> TaskData:
        return TaskData(
            self.x.take(rows),
            self.label[rows],
            self.weight[rows],
            self.frac[rows],
            self.observed[rows],
        )

    def batch(self) -> Batch:
        return Batch(
            jnp.asarray(self.x.indices),
            jnp.asarray(self.x.values),
            jnp.asarray(self.label),
            jnp.asarray(self.weight),
            jnp.asarray(self.frac),
            jnp.asarray(self.observed),
        )


def feature_spec(config: ModelConfig, history: IncidentHistory) -> FeatureSpec:
    """The spec for a history: numeric and recent-count names seen in it, in sorted order."""
    numeric = sorted({k for inc in history.incidents for k in inc.numeric})
    recent = sorted({k for inc in history.incidents for k in inc.recent})
    present = {k for inc in history.incidents for k in inc.fields}
    crosses = tuple((a, b) for a, b in config.crosses if a in present and b in present)
    return FeatureSpec(config.hash_dim, tuple(numeric), tuple(recent), crosses=crosses)


def class_weights(labels: NDArray[np.int64], power: float) -> NDArray[np.float32]:
    """(4,) weights (n / (4 n_c)) ** power, normalised to mean 1 over the rows."""
    counts = np.bincount(labels, minlength=len(SEVERITIES)).astype(np.float64)
    w = (labels.size / (len(SEVERITIES) * np.maximum(counts, 1.0))) ** power
    w = w / np.mean(w[labels])
    return w.astype(np.float32)


def _train_net(
    config: ModelConfig,
    task: str,
    dim: int,
    outputs: int,
    train: TaskData,
    valid: TaskData | None,
    epochs: int,
    key: jax.Array,
    criterion: Callable[[Params], float] | None = None,
) -> tuple[Params, int]:
    """Train one network; with `valid`, stop early and return the best epoch's params.

    The validation score is the loss on `valid`, or `criterion(params)` when given (lower
    is better).

    Returns: params and the number of epochs that gave them.
    """
    init_key, key = jax.random.split(key)
    params = init_params(init_key, dim, config.hidden, outputs)
    n = len(train.x)
    bs = min(config.batch_size, n)
    steps = max(n // bs, 1)
    optimizer, step = make_train_step(
        task,
        config.dropout,
        config.learning_rate,
        config.weight_decay,
        config.clip_norm,
        config.warmup_steps,
    )
    opt_state = optimizer.init(params)
    eval_loss = make_eval_loss(task)
    valid_batch = valid.batch() if valid is not None else None
    best: tuple[float, Params, int] = (np.inf, params, epochs)
    stale = 0
    for epoch in range(1, epochs + 1):
        key, perm_key = jax.random.split(key)
        order = np.asarray(jax.random.permutation(perm_key, n))
        for s in range(steps):
            key, drop_key = jax.random.split(key)
            batch = train.take(order[s * bs : (s + 1) * bs]).batch()
            params, opt_state, _ = step(params, opt_state, batch, drop_key)
        if valid_batch is None:
            continue
        vloss = criterion(params) if criterion else float(eval_loss(params, valid_batch))
        if vloss < best[0] - 1e-4:
            best, stale = (vloss, params, epoch), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if valid_batch is None:
        return params, epochs
    return best[1], best[2]


def to_numpy(params: Params) -> NpParams:
    return {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}


def stack(members: list[Params]) -> NpParams:
    """Ensemble members as NumPy arrays with a leading member axis (E, ...)."""
    return {k: np.stack([np.asarray(m[k], dtype=np.float32) for m in members]) for k in members[0]}


def tune_offsets(
    proba: NDArray[np.float64], labels: NDArray[np.int64], rounds: int = 3
) -> NDArray[np.float64]:
    """(4,) log-probability offsets maximising macro-F1 on (proba, labels) by coordinate search.

    The majority class (SEV3) stays at 0: only relative offsets matter.
    """
    offsets = np.zeros(proba.shape[1])
    logp = np.log(proba + 1e-12)
    grid = np.linspace(-2.0, 6.0, 33)
    labels_all = list(range(proba.shape[1]))

    def score(o: NDArray[np.float64]) -> float:
        pred = np.argmax(logp + o, axis=1)
        return float(f1_score(labels, pred, labels=labels_all, average="macro", zero_division=0))

    best = score(offsets)
    for _ in range(rounds):
        for c in range(proba.shape[1]):
            if c == 2:
                continue
            for g in grid:
                trial = offsets.copy()
                trial[c] = g
                s = score(trial)
                if s > best + 1e-9:
                    best, offsets = s, trial
    return offsets


def recency_weights(history: IncidentHistory, half_life_days: float) -> NDArray[np.float32]:
    """(n,) 0.5 ** (days from opening to the end of the window / half-life), mean 1."""
    if half_life_days <= 0:
        return np.ones(len(history), dtype=np.float32)
    age = (np.datetime64(history.as_of, "s") - history.opened()).astype(np.float64) / 86400.0
    w = 0.5 ** (np.clip(age, 0.0, None) / half_life_days)
    return np.asarray(w / w.mean(), dtype=np.float32)


def _severity_data(
    x: SparseBatch, history: IncidentHistory, power: float, recency: NDArray[np.float32]
) -> TaskData:
    labels = history.outcomes.severity
    weights = class_weights(labels, power)[labels] * recency
    zeros = np.zeros(len(labels), dtype=np.float32)
    return TaskData(x, labels.astype(np.int32), weights, zeros, zeros + 1.0)


def _ttr_data(
    x: SparseBatch,
    history: IncidentHistory,
    edges: NDArray[np.float64],
    recency: NDArray[np.float32],
    censored_weight: float,
) -> TaskData:
    b, frac = encode(history.outcomes.duration_hours, edges)
    observed = history.outcomes.observed
    weight = recency * np.where(observed, 1.0, censored_weight).astype(np.float32)
    return TaskData(x, b, weight, frac.astype(np.float32), observed.astype(np.float32))


def censor_at(history: IncidentHistory, moment: datetime) -> IncidentHistory:
    """Outcomes as they stood at `moment`: later resolutions become censoring at `moment`."""
    o = history.outcomes
    age = (np.datetime64(moment, "s") - history.opened()).astype(np.float64) / 3600.0
    age = np.clip(age, 0.0, None)
    observed = o.observed & (o.duration_hours < age)
    duration = np.where(observed, o.duration_hours, np.minimum(o.duration_hours, age))
    return IncidentHistory(history.incidents, Outcomes(o.severity, duration, observed), moment)


def _median_mae(
    artifact_ttr: Params, edges: NDArray[np.float64], data: TaskData, history: IncidentHistory
) -> float:
    """MAE of the predicted median over the resolved rows of a validation window."""
    logits = np.asarray(
        forward(artifact_ttr, jnp.asarray(data.x.indices), jnp.asarray(data.x.values))
    )
    pmf = softmax(logits.astype(np.float64))
    p50 = quantiles(pmf, edges, (0.5,))[:, 0]
    obs = history.outcomes.observed
    return (
        float(np.mean(np.abs(p50[obs] - history.outcomes.duration_hours[obs])))
        if obs.any()
        else 0.0
    )


def fit(
    config: ModelConfig, history: IncidentHistory, progress: Progress | None = None
) -> Artifact:
    """Train both networks on `history` (sorted by opening time) and export them.

    The last `validation_fraction` of the window (by opening time) is the validation window:
    the networks are first trained on the part before it, with outcomes re-censored at its
    start (as they stood then), to choose the number of epochs, the severity offsets and the
    weight of censored rows; then refit on the whole window with those choices.
    """
    say = progress or (lambda _m: None)
    started = time.perf_counter()

    def stamp(message: str) -> None:
        say(f"{message} ({time.perf_counter() - started:.1f}s)")

    spec = feature_spec(config, history)
    x = featurize_many(history.incidents, spec)
    n = len(history)
    n_valid = min(max(int(n * config.validation_fraction), 1), n - 1)
    fit_mask = np.arange(n) < n - n_valid
    valid_start = history.incidents[n - n_valid].opened_at
    early = censor_at(history.take(fit_mask), valid_start)
    late = history.take(~fit_mask)
    key = jax.random.PRNGKey(config.seed)
    sev_key, ttr_key, refit_key = jax.random.split(key, 3)
    edges = make_edges(history.outcomes.duration_hours, history.outcomes.observed, config.ttr_bins)
    stamp(f"features: {n} incidents, {spec.dim} dimensions")

    power = config.class_weight_power
    sev_fit = _severity_data(
        x.take(fit_mask), early, power, recency_weights(early, config.recency_half_life_days)
    )
    sev_valid = _severity_data(x.take(~fit_mask), late, power, np.ones(n_valid, dtype=np.float32))
    out = len(SEVERITIES)
    sev_params, sev_epochs = _train_net(
        config, "severity", spec.dim, out, sev_fit, sev_valid, config.max_epochs, sev_key
    )
    valid_logits = np.asarray(forward(sev_params, *sev_valid.batch()[:2]), dtype=np.float64)
    offsets = (
        tune_offsets(softmax(valid_logits), late.outcomes.severity)
        if config.tune_severity_offsets
        else np.zeros(out)
    )
    stamp(f"severity: best epoch {sev_epochs}, offsets {np.round(offsets, 2).tolist()}")

    early_recency = recency_weights(early, config.recency_half_life_days)
    ttr_valid = _ttr_data(x.take(~fit_mask), late, edges, np.ones(n_valid, dtype=np.float32), 1.0)
    choice: tuple[float, float, int] = (np.inf, 1.0, config.max_epochs)
    for cw in config.censored_weights:
        ttr_fit = _ttr_data(x.take(fit_mask), early, edges, early_recency, cw)
        # Stopped on the validation MAE itself: the NLL keeps falling long after the medians
        # stop improving (or stops before they do).
        params, epochs = _train_net(
            config,
            "ttr",
            spec.dim,
            len(edges) - 1,
            ttr_fit,
            ttr_valid,
            config.max_epochs,
            ttr_key,
            lambda p: _median_mae(p, edges, ttr_valid, late),
        )
        mae = _median_mae(params, edges, ttr_valid, late)
        stamp(
            f"time to resolve: censored weight {cw}: best epoch {epochs}, "
            f"validation MAE {mae:.1f} h"
        )
        if mae < choice[0]:
            choice = (mae, cw, epochs)
    _, censored_weight, ttr_epochs = choice

    # Refit on the whole window (its most recent weeks matter most when the data drifts),
    # as an ensemble of `ensemble` seeds: with a few dozen incidents in the rare classes a
    # single network's decisions swing with its seed; their mean does much less.
    recency = recency_weights(history, config.recency_half_life_days)
    sev_all = _severity_data(x, history, power, recency)
    ttr_all = _ttr_data(x, history, edges, recency, censored_weight)
    sev_members, ttr_members = [], []
    for member_key in jax.random.split(refit_key, config.ensemble):
        k1, k2 = jax.random.split(member_key)
        sev_members.append(
            _train_net(config, "severity", spec.dim, out, sev_all, None, sev_epochs, k1)[0]
        )
        ttr_members.append(
            _train_net(config, "ttr", spec.dim, len(edges) - 1, ttr_all, None, ttr_epochs, k2)[0]
        )
    stamp(
        f"refit on the whole window: {config.ensemble} members, censored weight {censored_weight}"
    )
    return Artifact(
        spec,
        stack(sev_members),
        offsets,
        stack(ttr_members),
        edges,
        {
            "severity_epochs": sev_epochs,
            "ttr_epochs": ttr_epochs,
            "censored_weight": censored_weight,
            "config": config.to_json(),
        },
    )
