"""The choices `fit` makes on its validation window: the fast macro-F1, the medians it is
stopped on, the prior shift judged on a validation ensemble (the default rule) and the older
rule's carry-over check and share of the offsets served (chosen forward in time inside the
training window), all never on the test window."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from models.config import get_config
from models.evaluate import EvalData, train_evaluate_artifact
from models.records import IncidentHistory, Outcomes
from models.survival import make_edges, quantiles
from models.train import (
    _medians,
    choose_offset_shrink,
    cross_fitted_gain,
    fit,
    macro_f1,
    tune_offsets,
    tune_prior_shift,
)
from tests.models.factories import tiny_history


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


SHRINKS = (0.0, 0.25, 0.5, 1.0)


def test_shrink_kept_when_the_shift_carries_forward():
    proba, labels, prior = _weak_signal(4000, 4)
    share, scores = choose_offset_shrink(
        proba, labels, lambda p, y: tune_prior_shift(p, y, prior), SHRINKS
    )
    assert share > 0.0
    assert scores[share] > scores[0.0] + 0.02
    assert set(scores) == set(SHRINKS)


def test_shrink_is_judged_on_the_later_half_only():
    """The earlier half calls for a shift towards the rare classes; on the later half every
    such shift turns right SEV3 decisions into wrong SEV1 ones: no shift is served."""
    early_proba, early_labels, prior = _weak_signal(2000, 5)
    late_labels = np.full(2000, 2)
    late_proba = np.tile([0.40, 0.08, 0.42, 0.10], (2000, 1))
    proba = np.concatenate([early_proba, late_proba])
    labels = np.concatenate([early_labels, late_labels])
    tuner = lambda p, y: tune_prior_shift(p, y, prior)  # noqa: E731
    assert np.any(tuner(early_proba, early_labels) > 0.0)  # the earlier half wants a shift
    share, scores = choose_offset_shrink(proba, labels, tuner, SHRINKS)
    assert share == 0.0
    assert scores[1.0] < scores[0.0]


def test_shrink_ties_go_to_the_smaller_share():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 4, 400)
    proba = np.full((400, 4), 0.1)
    proba[np.arange(400), labels] = 0.7  # tuned offsets are 0: every share scores the same
    prior = np.bincount(labels, minlength=4) / 400
    share, scores = choose_offset_shrink(
        proba, labels, lambda p, y: tune_prior_shift(p, y, prior), (1.0, 0.5, 0.25)
    )
    assert share == 0.25 and len(set(scores.values())) == 1


def _relabelled(history: IncidentHistory, seed: int) -> IncidentHistory:
    """The same incidents with other severities and times to resolve."""
    rng = np.random.default_rng(seed)
    o = history.outcomes
    outcomes = Outcomes(rng.permutation(o.severity), o.duration_hours[::-1].copy(), o.observed)
    return IncidentHistory(history.incidents, outcomes, history.as_of)


@pytest.mark.parametrize("rule", ["ensemble", "halves"])
def test_fit_chooses_the_rule_from_the_training_window_only(rule):
    """Two runs on the same training window and different test windows make the same
    choices (recorded in `Artifact.training`) and serve the same offsets."""
    # (seed 0: a history where, with "halves", a shift is kept and served at a share
    # strictly between 0 and 1)
    whole = tiny_history(800, seed=0, days=27.0)
    cut = np.arange(len(whole)) < 600
    train = whole.take(cut)
    train = IncidentHistory(train.incidents, train.outcomes, train.incidents[-1].opened_at)
    test = whole.take(~cut)
    config = get_config().replace(
        ensemble=1,
        max_epochs=8,
        recency_half_lives=(0.0,),
        class_weight_powers=(0.5,),
        censored_weights=(1.0,),
        hash_dim=512,
        hidden=8,
        severity_rule=rule,
    )
    first, first_metrics = train_evaluate_artifact(config, EvalData(train, test))
    other, other_metrics = train_evaluate_artifact(config, EvalData(train, _relabelled(test, 9)))
    assert first_metrics["severity"] != other_metrics["severity"]  # the test windows differ
    assert first.training == other.training
    np.testing.assert_array_equal(first.severity_offsets, other.severity_offsets)
    t = first.training
    np.testing.assert_allclose(
        first.severity_offsets, t["severity_offset_shrink"] * np.array(t["severity_offsets_tuned"])
    )
    if rule == "halves":
        assert t["severity_offset_shrink"] in SHRINKS
        assert set(t["severity_offset_shrink_scores"]) == {str(s) for s in SHRINKS}
    else:
        # served in full when kept; judged on the mean of two networks
        assert t["severity_offset_shrink"] == (1.0 if t["severity_prior_shift"] else 0.0)
        assert t["severity_offset_shrink_scores"] == {}
        assert t["severity_validation_members"] == 2


def test_choices_do_not_depend_on_the_refit_ensemble():
    """The validation networks and the rule come from the validation window: a different
    number of refit members changes nothing that was chosen."""
    whole = tiny_history(500, seed=1, days=20.0)
    train = IncidentHistory(whole.incidents, whole.outcomes, whole.incidents[-1].opened_at)
    config = get_config().replace(
        max_epochs=6, recency_half_lives=(0.0,), censored_weights=(1.0,), hash_dim=256, hidden=8
    )
    one = fit(config.replace(ensemble=1), train)
    two = fit(config.replace(ensemble=2), train)
    keys = ("severity_epochs", "severity_offsets", "severity_prior_shift", "ttr_epochs")
    assert {k: one.training[k] for k in keys} == {k: two.training[k] for k in keys}


def test_ensemble_rule_tunes_the_shift_on_the_mean_of_its_members(monkeypatch):
    """With severity_rule "ensemble", a candidate is judged on the mean probabilities of
    `validation_members` networks (different seeds) and its shift is the prior shift tuned
    on that mean over the whole validation window."""
    import jax

    from models import train as train_module
    from models.features import featurize_many
    from models.serving import forward_np, softmax

    history = tiny_history(500, seed=2, days=20.0)
    config = get_config().replace(
        max_epochs=6, recency_half_lives=(0.0,), hash_dim=256, hidden=8, validation_members=2
    )
    spec = train_module.feature_spec(config, history)
    x = featurize_many(history.incidents, spec)
    fit_mask = np.arange(len(history)) < 400
    early = train_module.censor_at(history.take(fit_mask), history.incidents[400].opened_at)
    valid = train_module.Validation(x.take(~fit_mask), history.take(~fit_mask))
    trained = []
    real = train_module._train_net

    def recording(*args, **kwargs):
        out = real(*args, **kwargs)
        trained.append(out)
        return out

    monkeypatch.setattr(train_module, "_train_net", recording)
    choice = train_module._choose_severity(
        config, spec.dim, x.take(fit_mask), early, valid, jax.random.PRNGKey(0), lambda _m: None
    )
    assert len(trained) == 2
    probas = [
        softmax(forward_np(train_module.to_numpy(p), valid.x.indices, valid.x.values))
        for p, _ in trained
    ]
    assert not np.allclose(probas[0], probas[1])  # two seeds, two networks
    np.testing.assert_allclose(choice.proba, np.mean(probas, axis=0))
    assert choice.epochs == round(np.mean([e for _, e in trained]))
    labels = valid.history.outcomes.severity
    prior = np.bincount(early.outcomes.severity, minlength=4) / len(early)
    expected = tune_prior_shift(choice.proba, labels, prior)
    np.testing.assert_array_equal(choice.offsets, expected)
    assert choice.use_offsets == bool(np.any(expected != 0.0))
    tuned = macro_f1(labels, np.argmax(np.log(choice.proba + 1e-12) + expected, axis=1))
    assert np.isclose(choice.score, tuned)
