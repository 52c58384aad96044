"""Training: `fit(config, history) -> Artifact` and `train_and_evaluate(config, data) -> metrics`.

Both networks are trained on the earlier part of the training window with early stopping
on its last part (the validation window); the severity decision offsets are tuned there
for macro-F1; then both are refit on the whole window for the epochs that were best.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import NDArray

from models.config import ModelConfig
from models.features import FeatureSpec, SparseBatch, featurize_many
from models.nets import Batch, Params, init_params, make_train_step
from models.records import SEVERITIES, IncidentHistory, Outcomes
from models.serving import Artifact, NpParams, forward_np, softmax
from models.survival import encode, make_edges

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

    def rows(self, rows: NDArray[np.int64]) -> Batch:
        """A mini-batch as NumPy arrays (handed to a jitted step without a copy through
        `jnp.asarray`, which costs more per step than the step's arithmetic)."""
        return Batch(
            self.x.indices[rows],  # type: ignore[arg-type]
            self.x.values[rows],  # type: ignore[arg-type]
            self.label[rows],  # type: ignore[arg-type]
            self.weight[rows],  # type: ignore[arg-type]
            self.frac[rows],  # type: ignore[arg-type]
            self.observed[rows],  # type: ignore[arg-type]
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
    return FeatureSpec(
        config.hash_dim,
        tuple(numeric),
        tuple(recent),
        crosses=crosses,
        numeric_buckets=config.numeric_buckets,
    )


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
    epochs: int,
    key: jax.Array,
    criterion: Callable[[Params], float] | None = None,
) -> tuple[Params, int]:
    """Train one network; with a validation `criterion` (lower is better), stop early and
    return the best epoch's params, else train for `epochs`.

    Returns: params and the number of epochs that gave them.
    """
    # Shuffling and dropout keys come from NumPy, seeded by `key`: eager JAX random calls
    # cost a dispatch (and, per new shape, a compilation) each, more than the step itself.
    rng = np.random.default_rng(np.asarray(key, dtype=np.uint32))
    params = _init_params(key, dim, config.hidden, outputs)
    n = len(train.x)
    bs = min(config.batch_size, n)
    steps = max(n // bs, 1)
    settings = (
        task,
        config.dropout,
        config.learning_rate,
        config.weight_decay,
        config.clip_norm,
        config.warmup_steps,
    )
    _, step = make_train_step(*settings)
    opt_state = _init_opt_state(*settings)(params)
    best: tuple[float, Params, int] = (np.inf, params, epochs)
    stale = 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        # Raw threefry keys (two uint32 words), one per step.
        keys = rng.integers(0, 2**32, size=(steps, 2), dtype=np.uint32)
        for s in range(steps):
            batch = train.rows(order[s * bs : (s + 1) * bs])
            params, opt_state, _ = step(params, opt_state, batch, keys[s])
        if criterion is None:
            continue
        score = criterion(params)
        if score < best[0] - 1e-4:
            best, stale = (score, params, epoch), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if criterion is None:
        return params, epochs
    return best[1], best[2]


# Compiled once per shape and reused by every network and run: on a small, busy CPU, XLA
# compilation (not the arithmetic) is most of a training run's time.
_init_params = jax.jit(init_params, static_argnums=(1, 2, 3))


@functools.lru_cache(maxsize=16)
def _init_opt_state(
    task: str,
    dropout: float,
    learning_rate: float,
    weight_decay: float,
    clip_norm: float,
    warmup: int,
) -> Callable[[Params], object]:
    optimizer, _ = make_train_step(task, dropout, learning_rate, weight_decay, clip_norm, warmup)
    return jax.jit(optimizer.init)  # type: ignore[no-any-return]


def to_numpy(params: Params) -> NpParams:
    return {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}


def stack(members: list[Params]) -> NpParams:
    """Ensemble members as NumPy arrays with a leading member axis (E, ...)."""
    return {k: np.stack([np.asarray(m[k], dtype=np.float32) for m in members]) for k in members[0]}


def macro_f1(labels: NDArray[np.int64], pred: NDArray[np.int64], classes: int = 4) -> float:
    """Macro-F1 over `classes` classes (a class never true nor predicted scores 0, as in
    scikit-learn with zero_division=0); a confusion count, fast enough for searches."""
    confusion = np.bincount(labels * classes + pred, minlength=classes * classes).reshape(
        classes, classes
    )
    tp = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(classes), where=denominator > 0)
    return float(f1.mean())


def tune_offsets(
    proba: NDArray[np.float64], labels: NDArray[np.int64], rounds: int = 3
) -> NDArray[np.float64]:
    """(4,) log-probability offsets maximising macro-F1 on (proba, labels) by coordinate search.

    The majority class (SEV3) stays at 0: only relative offsets matter.
    """
    offsets = np.zeros(proba.shape[1])
    logp = np.log(proba + 1e-12)
    grid = np.linspace(-2.0, 6.0, 33)

    def score(o: NDArray[np.float64]) -> float:
        return macro_f1(labels, np.argmax(logp + o, axis=1), proba.shape[1])

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


def tune_prior_shift(
    proba: NDArray[np.float64], labels: NDArray[np.int64], prior: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(4,) offsets -alpha * log(prior), the one alpha maximising macro-F1 on (proba, labels).

    One number instead of one per class: it moves every decision towards (alpha > 0) or
    away from the rare classes together, like choosing the class-weight power after the
    fact, so it has little room to chase a handful of rare-class cases.
    """
    logp = np.log(proba + 1e-12)
    log_prior = np.log(np.maximum(prior, 1e-6))
    best, best_alpha = -1.0, 0.0
    # Ties go to the smallest shift: alpha 0 (no offsets) first, then outwards.
    for alpha in sorted(np.linspace(-1.0, 1.0, 21), key=abs):
        score = macro_f1(labels, np.argmax(logp - alpha * log_prior, axis=1), proba.shape[1])
        if score > best + 1e-9:
            best, best_alpha = score, float(alpha)
    return np.asarray(-best_alpha * (log_prior - log_prior[2]), dtype=np.float64)


OffsetTuner = Callable[[NDArray[np.float64], NDArray[np.int64]], NDArray[np.float64]]


def cross_fitted_gain(
    proba: NDArray[np.float64], labels: NDArray[np.int64], tuner: OffsetTuner
) -> tuple[float, float]:
    """Macro-F1 of the arg-max and of offsets tuned (by `tuner`) on the other half, on each
    half of a (time-ordered) validation window, averaged over the two halves.

    Offsets tuned on a window always look better on that window; this says whether they
    carry over to incidents they were not tuned on.
    Returns: (plain, with offsets).
    """
    half = len(labels) // 2
    parts = (np.arange(len(labels)) < half, np.arange(len(labels)) >= half)
    plain, tuned = 0.0, 0.0
    for own, other in (parts, parts[::-1]):
        offsets = tuner(proba[other], labels[other])
        logp = np.log(proba[own] + 1e-12)
        plain += macro_f1(labels[own], np.argmax(logp, axis=1)) / 2
        tuned += macro_f1(labels[own], np.argmax(logp + offsets, axis=1)) / 2
    return plain, tuned


def choose_offset_shrink(
    proba: NDArray[np.float64],
    labels: NDArray[np.int64],
    tuner: OffsetTuner,
    shrinks: tuple[float, ...],
) -> tuple[float, dict[float, float]]:
    """The share of tuned offsets to serve, judged forward in time inside a (time-ordered)
    validation window: offsets tuned on its earlier half, scaled by each of `shrinks`, scored
    by macro-F1 on its later half, which the tuning did not see. Ties go to the smaller share.

    Offsets are tuned on the days just after a network's training data and serve the weeks
    after that; this measures how much of them carries over a gap, on the training window
    alone. Returns: (chosen share, {share: macro-F1 on the later half}).
    """
    later = np.arange(len(labels)) >= len(labels) // 2
    offsets = tuner(proba[~later], labels[~later])
    logp = np.log(proba[later] + 1e-12)
    scores = {
        float(s): macro_f1(labels[later], np.argmax(logp + s * offsets, axis=1))
        for s in sorted(shrinks)
    }
    best = min(scores)
    for share, score in scores.items():
        if score > scores[best] + 1e-9:
            best = share
    return best, scores


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


def _median_mae(params: Params, edges: NDArray[np.float64], valid: Validation) -> float:
    """MAE of the predicted median over the resolved rows of the validation window."""
    return _pmf_mae(
        softmax(forward_np(to_numpy(params), valid.x.indices, valid.x.values)), edges, valid
    )


def _pmf_mae(pmf: NDArray[np.float64], edges: NDArray[np.float64], valid: Validation) -> float:
    """MAE of the median of (n_valid, B) pmf over the resolved rows of the validation window."""
    obs = valid.history.outcomes.observed
    if not obs.any():
        return 0.0
    p50 = _medians(pmf[obs], edges)
    return float(np.mean(np.abs(p50 - valid.history.outcomes.duration_hours[obs])))


def _medians(pmf: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """(n, B) pmf -> (n,) medians in hours: `survival.quantiles(pmf, edges, (0.5,))` in one
    set of array operations (it is evaluated after every epoch of every candidate)."""
    cdf = np.cumsum(pmf, axis=1)
    cdf = np.concatenate([np.zeros((len(pmf), 1)), cdf / cdf[:, -1:]], axis=1)
    ue = np.log1p(edges)
    j = np.clip((cdf < 0.5).sum(axis=1), 1, len(edges) - 1)  # first knot with cdf >= 0.5
    rows = np.arange(len(pmf))
    lo, hi = cdf[rows, j - 1], cdf[rows, j]
    share = np.clip((0.5 - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
    return np.asarray(np.expm1(ue[j - 1] + share * (ue[j] - ue[j - 1])), dtype=np.float64)


def _severity_loss(params: Params, valid: Validation, power: float) -> float:
    """Class-weighted cross-entropy on the validation window (the training objective)."""
    labels = valid.history.outcomes.severity
    logits = forward_np(to_numpy(params), valid.x.indices, valid.x.values)
    z = logits - logits.max(axis=1, keepdims=True)
    nll = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]
    w = class_weights(labels, power)[labels]
    return float(np.sum(nll * w) / np.sum(w))


@dataclass(frozen=True)
class Validation:
    """The validation window: its features and its history (outcomes as of the window end)."""

    x: SparseBatch
    history: IncidentHistory


def offset_tuner(config: ModelConfig, train_labels: NDArray[np.int64]) -> OffsetTuner:
    """The configured offset search: one prior shift, or free per-class offsets."""
    if config.offset_search == "free":
        return tune_offsets
    prior = np.bincount(train_labels, minlength=len(SEVERITIES)) / max(len(train_labels), 1)
    return lambda proba, labels: tune_prior_shift(proba, labels, prior)


@dataclass(frozen=True)
class SeverityChoice:
    """One severity candidate judged on the validation window."""

    half_life: float
    power: float
    epochs: int
    proba: NDArray[np.float64]  # (n_valid, 4)
    score: float  # validation macro-F1 of its decision rule (whole window or half-averaged)
    use_offsets: bool
    offsets: NDArray[np.float64]  # the "ensemble" rule's offsets (zeros for "halves")


def _choose_severity(
    config: ModelConfig,
    dim: int,
    x_fit: SparseBatch,
    early: IncidentHistory,
    valid: Validation,
    key: jax.Array,
    stamp: Progress,
) -> SeverityChoice:
    """Train severity networks per (recency half-life, class-weight power) candidate on the
    early part, each stopped on its validation loss, and keep the candidate whose decisions
    score the best validation macro-F1.

    With `severity_rule` "ensemble", each candidate is `validation_members` networks (seeds)
    whose probabilities are averaged, like the ensemble that is served, and its decision
    rule is the prior shift maximising the macro-F1 of the whole window on that mean
    (`tune_prior_shift`). With "halves", one network per candidate, and tuned offsets kept
    only where they carry over between the halves of the window (`cross_fitted_gain`).
    """
    labels = valid.history.outcomes.severity
    tuner = offset_tuner(config, early.outcomes.severity)
    prior = np.bincount(early.outcomes.severity, minlength=len(SEVERITIES)) / max(len(early), 1)
    on_ensemble = config.severity_rule == "ensemble"
    members = config.validation_members if on_ensemble else 1
    best: SeverityChoice | None = None
    for half_life in config.recency_half_lives:
        recency = recency_weights(early, half_life)
        for power in config.class_weight_powers:
            data = _severity_data(x_fit, early, power, recency)
            probas, all_epochs = [], []
            for member_key in jax.random.split(key, members) if members > 1 else [key]:
                params, epochs = _train_net(
                    config,
                    "severity",
                    dim,
                    len(SEVERITIES),
                    data,
                    config.max_epochs,
                    member_key,
                    lambda p, power=power: _severity_loss(p, valid, power),  # type: ignore[misc]
                )
                probas.append(
                    softmax(forward_np(to_numpy(params), valid.x.indices, valid.x.values))
                )
                all_epochs.append(epochs)
            proba = np.mean(probas, axis=0)
            epochs = round(float(np.mean(all_epochs)))
            if on_ensemble:
                plain = macro_f1(labels, np.argmax(proba, axis=1))
                offsets = tune_prior_shift(proba, labels, prior)
                tuned = macro_f1(labels, np.argmax(np.log(proba + 1e-12) + offsets, axis=1))
                use = config.tune_severity_offsets and bool(np.any(offsets != 0.0))
            else:
                plain, tuned = cross_fitted_gain(proba, labels, tuner)
                use = config.tune_severity_offsets and tuned > plain + 1e-9
                offsets = np.zeros(len(SEVERITIES))
            choice = SeverityChoice(
                half_life, power, epochs, proba, tuned if use else plain, use, offsets
            )
            stamp(
                f"severity: half-life {half_life}, class weights ** {power}: best epoch "
                f"{all_epochs}, validation macro-F1 {plain:.3f}, with offsets {tuned:.3f}"
            )
            if best is None or choice.score > best.score + 1e-9:
                best = choice
    assert best is not None
    return best


def fit(
    config: ModelConfig, history: IncidentHistory, progress: Progress | None = None
) -> Artifact:
    """Train both networks on `history` (sorted by opening time) and export them.

    The last `validation_fraction` of the window (by opening time) is the validation window:
    candidate networks are first trained on the part before it, with outcomes re-censored at
    its start (as they stood then), to choose the number of epochs, the recency half-life,
    the class weights, the severity prior shift (on the mean of `validation_members`
    networks per candidate, or with `severity_rule` "halves" the older carry-over check and
    share `choose_offset_shrink`), and the weight of censored rows; then refit on the whole
    window with those choices. Nothing is chosen on data after the window.
    """
    if config.severity_rule not in ("ensemble", "halves"):
        raise ValueError(
            f"severity_rule must be 'ensemble' or 'halves', not {config.severity_rule!r}"
        )
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
    valid = Validation(x.take(~fit_mask), history.take(~fit_mask))
    x_fit = x.take(fit_mask)
    key = jax.random.PRNGKey(config.seed)
    sev_key, ttr_key, refit_key = jax.random.split(key, 3)
    edges = make_edges(history.outcomes.duration_hours, history.outcomes.observed, config.ttr_bins)
    stamp(f"features: {n} incidents, {spec.dim} dimensions")

    sev = _choose_severity(config, spec.dim, x_fit, early, valid, sev_key, stamp)
    valid_labels = valid.history.outcomes.severity
    tuner = offset_tuner(config, early.outcomes.severity)
    if config.severity_rule == "ensemble":
        # Chosen on the validation ensemble over the whole window, served in full.
        tuned = sev.offsets if sev.use_offsets else np.zeros(len(SEVERITIES))
        shrink = 1.0 if sev.use_offsets else 0.0
        shrink_scores: dict[float, float] = {}
    else:
        tuned = tuner(sev.proba, valid_labels) if sev.use_offsets else np.zeros(len(SEVERITIES))
        shrink, shrink_scores = (
            choose_offset_shrink(sev.proba, valid_labels, tuner, config.offset_shrinks)
            if sev.use_offsets
            else (0.0, {})
        )
    offsets = shrink * tuned
    by_share = (
        f" (later-half macro-F1 by share: { {k: round(v, 3) for k, v in shrink_scores.items()} })"
        if shrink_scores
        else ""  # the ensemble rule serves the shift in full: no share was chosen
    )
    stamp(
        f"severity: chose half-life {sev.half_life}, class weights ** {sev.power}, "
        f"offsets {np.round(tuned, 2).tolist()} x {shrink}{by_share}"
    )

    ttr_choice: tuple[float, float, float, int] = (np.inf, 1.0, 0.0, config.max_epochs)
    for half_life in config.recency_half_lives:
        recency = recency_weights(early, half_life)
        for cw in config.censored_weights:
            # Stopped on the validation MAE itself: the NLL keeps falling long after the
            # medians stop improving (or stops before they do). Judged on the mean pmf of
            # `ttr_validation_members` networks, like the ensemble that is served.
            data = _ttr_data(x_fit, early, edges, recency, cw)
            pmfs, all_epochs = [], []
            n_members = config.ttr_validation_members
            for member_key in jax.random.split(ttr_key, n_members) if n_members > 1 else [ttr_key]:
                params, epochs = _train_net(
                    config,
                    "ttr",
                    spec.dim,
                    len(edges) - 1,
                    data,
                    config.max_epochs,
                    member_key,
                    lambda p: _median_mae(p, edges, valid),
                )
                pmfs.append(softmax(forward_np(to_numpy(params), valid.x.indices, valid.x.values)))
                all_epochs.append(epochs)
            epochs = round(float(np.mean(all_epochs)))
            mae = _pmf_mae(np.mean(pmfs, axis=0), edges, valid)
            stamp(
                f"time to resolve: half-life {half_life}, censored weight {cw}: "
                f"best epoch {epochs}, validation MAE {mae:.2f} h"
            )
            if mae < ttr_choice[0] - 1e-9:
                ttr_choice = (mae, half_life, cw, epochs)
    _, ttr_half_life, censored_weight, ttr_epochs = ttr_choice

    # Refit on the whole window (its most recent weeks matter most when the data drifts),
    # as an ensemble of `ensemble` seeds: with a few dozen incidents in the rare classes a
    # single network's decisions swing with its seed; their mean does much less.
    sev_all = _severity_data(x, history, sev.power, recency_weights(history, sev.half_life))
    ttr_all = _ttr_data(x, history, edges, recency_weights(history, ttr_half_life), censored_weight)
    out = len(SEVERITIES)
    sev_members, ttr_members = [], []
    for member_key in jax.random.split(refit_key, config.ensemble):
        k1, k2 = jax.random.split(member_key)
        sev_members.append(
            _train_net(config, "severity", spec.dim, out, sev_all, sev.epochs, k1)[0]
        )
        ttr_members.append(
            _train_net(config, "ttr", spec.dim, len(edges) - 1, ttr_all, ttr_epochs, k2)[0]
        )
    stamp(
        f"refit on the whole window: {config.ensemble} members; time to resolve with "
        f"half-life {ttr_half_life}, censored weight {censored_weight}"
    )
    return Artifact(
        spec,
        stack(sev_members),
        offsets,
        stack(ttr_members),
        edges,
        {
            "severity_epochs": sev.epochs,
            "severity_half_life_days": sev.half_life,
            "class_weight_power": sev.power,
            # The prior shift: how it was chosen ("ensemble": on the mean of the validation
            # networks, served in full; "halves": kept if it carried over between the
            # validation halves, served at a share), the offsets tuned, the share and why.
            "severity_rule": config.severity_rule,
            "severity_validation_members": (
                config.validation_members if config.severity_rule == "ensemble" else 1
            ),
            "severity_prior_shift": sev.use_offsets,
            "severity_offsets_tuned": [float(v) for v in tuned],
            "severity_offset_shrink": shrink,
            "severity_offset_shrink_scores": {str(k): v for k, v in shrink_scores.items()},
            "severity_offsets": [float(v) for v in offsets],
            "ttr_epochs": ttr_epochs,
            "ttr_half_life_days": ttr_half_life,
            "censored_weight": censored_weight,
            "config": config.to_json(),
        },
    )
