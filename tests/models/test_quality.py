"""The evaluation each version records and its quality gate."""

from __future__ import annotations

import numpy as np

from incident_service.responses.policies import PolicyFile, decide, incident_context
from models import quality
from tests.models.factories import tiny_history


def _faithful(seed: int = 0):
    """Predictions that follow the truth (right class mostly, intervals around the time)."""
    test = tiny_history(600, seed=seed)
    y, d = test.outcomes.severity, test.outcomes.duration_hours
    rng = np.random.default_rng(seed)
    pred = np.where(rng.random(len(y)) < 0.8, y, rng.integers(0, 4, len(y)))
    proba = np.full((len(y), 4), 0.2 / 3)
    proba[np.arange(len(y)), pred] = 0.8
    p50 = d * np.exp(rng.normal(0, 0.5, len(y)))
    return test, proba, pred, p50 / 2, p50, p50 * 2


def test_a_model_that_knows_something_passes():
    test, proba, pred, p10, p50, p90 = _faithful()
    ev = quality.evaluation(test, proba, pred, p10, p50, p90)
    assert set(ev["per_class"]["SEV1_CRITICAL"]) == {
        "precision", "recall", "f1", "support", "predicted"
    }  # fmt: skip
    assert ev["calibration"]["high_severity_bins"] and ev["calibration"]["brier"] < 0.5
    gate = quality.gate(ev)
    assert gate["passed"], gate["checks"]


def test_a_near_constant_model_fails_on_spread_and_skill():
    test = _faithful()[0]
    n = len(test)
    const = np.tile([0.87, 0.05, 0.05, 0.03], (n, 1))
    ev = quality.evaluation(
        test,
        const,
        np.zeros(n, dtype=np.int64),
        np.full(n, 2.0),
        np.full(n, 13.0),
        np.full(n, 60.0),
    )
    gate = quality.gate(ev)
    assert not gate["passed"]
    assert {"macro_f1", "auc_high", "top_suggestion_share", "p50_log_std", "ece_high"} <= set(
        gate["failed"]
    )


def test_majority_macro_f1_is_the_commonest_answer():
    labels = np.array([2] * 94 + [0] * 6)
    share = 0.94
    assert quality.majority_macro_f1(labels) == 2 * share / (1 + share) / 4


POLICIES = PolicyFile.model_validate(
    {
        "version": "t",
        "policies": [
            {
                "id": "predicted-critical",
                "when": {
                    "any": [
                        {"field": "incident.title", "op": "eq", "value": "never"},
                        {"field": "predicted.sev1_probability", "op": "gte", "value": 0.6},
                    ]
                },
                "actions": [{"type": "suggest_severity"}],
            },
            {"id": "plain", "when": {"field": "incident.severity", "op": "eq", "value": "SEV4_LOW"},
             "actions": [{"type": "create_ticket"}]},
        ],
    }
)  # fmt: skip


def _context(gate: dict | None) -> dict:
    predicted = {"sev1_probability": 0.9}
    if gate is not None:
        predicted["model_gate"] = gate
    return incident_context(
        severity="SEV4_LOW",
        assigned_team="t",
        affected_services=[],
        labels={},
        title="typo",
        predicted=predicted,
    )


def test_policies_on_predictions_are_skipped_below_the_gate_and_others_still_run():
    below = decide(POLICIES, _context({"passed": False, "failed": ["p50_log_std"]}))
    assert [m["policy"] for m in below.matched] == ["plain"]
    [skipped] = below.not_matched
    assert skipped["why"] == ["model below its gate (p50_log_std): policy skipped"]
    assert [m["policy"] for m in decide(POLICIES, _context(None)).matched] == ["plain"]
    passed = decide(POLICIES, _context({"passed": True, "failed": []}))
    assert [m["policy"] for m in passed.matched] == ["predicted-critical", "plain"]
