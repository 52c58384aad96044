"""The choices `fit` makes on its validation window: the fast macro-F1, the medians it is
stopped on, and the offset searches with their carry-over check."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from models.survival import make_edges, quantiles
from models.train import (
    _medians,
    cross_fitted_gain,
    macro_f1,
    tune_offsets,
    tune_prior_shift,
)


def test_macro_f1_matches_scikit_learn():
    rng = np.random.default_rng(0)
    for n in (5, 50, 500):
        labels = rng.integers(0, 4, n)
        pred = rng.integers(0, 3, n)  # class 3 never predicted; with n=5 some never true
        expected = f1_score(labels, pred, labels=[0, 1, 2, 3], average="macro", zero_division=0)
        assert np.isclose(macro_f1(labels, pred), expected)


def test_medians_match_survival_quantiles():
    rng = np.random.default_rng(1)
    durations = rng.lognormal(1.0, 1.5, 2000)
    edges = make_edges(durations, np.ones(2000, dtype=bool), 12)
    pmf = rng.dirichlet(np.full(len(edges) - 1, 0.3), size=300)
    pmf[:20, 2:6] = 0.0  # empty bins: flat stretches of the CDF
    pmf /= pmf.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_medians(pmf, edges), quantiles(pmf, edges, (0.5,))[:, 0])


def _weak_signal(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated but weak probabilities: the arg-max never picks the rare classes."""
    rng = np.random.default_rng(seed)
    prior = np.array([0.05, 0.2, 0.45, 0.3])
    labels = rng.choice(4, size=n, p=prior)
    logits = np.log(prior) + 0.8 * np.eye(4)[labels] + rng.normal(0.0, 0.5, (n, 4))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, labels, prior


def test_offsets_that_carry_over_are_found_by_both_searches():
    proba, labels, prior = _weak_signal(4000, 2)
    for tuner in (tune_offsets, lambda p, y: tune_prior_shift(p, y, prior)):
        plain, tuned = cross_fitted_gain(proba, labels, tuner)
        assert tuned > plain + 0.02
    shift = tune_prior_shift(proba, labels, prior)
    # towards the rare classes, most for the rarest; the majority class stays at 0
    assert shift[2] == 0.0 and shift[0] > shift[1] > 0.0


def test_no_offsets_when_the_arg_max_is_already_right():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 400)
    proba = np.full((400, 4), 0.1)
    proba[np.arange(400), labels] = 0.7
    prior = np.bincount(labels, minlength=4) / 400
    assert np.all(tune_prior_shift(proba, labels, prior) == 0.0)
    assert np.all(tune_offsets(proba, labels) == 0.0)
    plain, tuned = cross_fitted_gain(proba, labels, tune_offsets)
    assert plain == tuned == 1.0
