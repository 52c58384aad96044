"""The model card shows the gate, per-class recall, calibration and the fold table."""

from __future__ import annotations

from models import card, folds, quality
from tests.models.test_folds import _fold
from tests.models.test_quality import _faithful


def test_card_has_gate_per_class_recall_calibration_and_folds(tmp_path):
    ev = quality.evaluation(*_faithful())
    per_fold = [_fold(0.5, 0.4, 10.0, 12.0), _fold(0.45, 0.4, 9.0, 9.5)]
    summary = folds.summarize(per_fold)
    metrics = {
        "evaluation": ev,
        "gate": quality.gate(ev),
        "folds": {
            "per_fold": [f | {"cutoff": "2016-04-04T00:00:00"} for f in per_fold],
            "summary": summary,
            "bar": folds.bar_check(summary, per_fold),
        },
    }
    path = card.write_card(tmp_path, "incident-service", 3, metrics, "active")
    assert path.name == "model-card-incident-service-v3.md"
    text = path.read_text()
    assert "Gate passed." in text and "| top_suggestion_share |" in text
    recall = ev["per_class"]["SEV1_CRITICAL"]["recall"]
    assert f"| SEV1_CRITICAL | {ev['per_class']['SEV1_CRITICAL']['support']} |" in text
    assert f"{recall:.3f}" in text
    assert "Expected calibration error" in text and "| mean predicted |" in text
    assert "0.475 ± 0.035 (2/2)" in text  # the fold table: mean ± spread (wins/folds)


def test_a_version_without_an_evaluation_says_it_is_below_its_gate():
    text = card.card_markdown("incident-service", 1, {"severity": {}, "ttr": {}})
    assert "below its gate" in text and "No forward folds" in text
