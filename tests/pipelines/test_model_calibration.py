"""Calibration and drift of the served model's predictions: the plain functions on inputs
with known answers, and the report asset on a throwaway database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from models.records import SEVERITIES
from models.service_records import SERVICE_MODEL
from pipelines.ml import calibration, calibration_report
from pipelines.ml.assets import model_calibration_report
from pipelines.resources import PostgresResource, ReportsResource
from testkit.databases import migrated_database
from tests.pipelines.chromium import dom_after_scripts
from tests.pipelines.test_report_rendering import _drawn

# Each group: a probability vector and 100 incidents whose final severities occur in
# exactly those proportions, so every probability bin is perfectly calibrated.
GROUPS = [
    (0.1, 0.2, 0.3, 0.4),
    (0.7, 0.1, 0.1, 0.1),
    (0.0, 0.5, 0.5, 0.0),
    (0.25, 0.25, 0.25, 0.25),
    (0.05, 0.05, 0.6, 0.3),
]


def calibrated() -> tuple[np.ndarray, np.ndarray]:
    proba, actual = [], []
    for group in GROUPS:
        for k, p in enumerate(group):
            count = round(p * 100)
            proba += [group] * count
            actual += [k] * count
    return np.array(proba, dtype=np.float64), np.array(actual, dtype=np.int64)


def test_a_perfectly_calibrated_input_has_no_calibration_error() -> None:
    proba, actual = calibrated()
    assert len(actual) == 500
    assert calibration.expected_calibration_error(proba, actual) == pytest.approx(0.0, abs=1e-12)
    for b in calibration.reliability(proba, actual):
        assert b.mean_predicted == pytest.approx(b.observed)


def test_an_overconfident_input_has_the_gap_as_its_error() -> None:
    # Always 0.9 on SEV3, right 60% of the time (the rest SEV4): SEV3's bin is off by
    # 0.3, SEV4's (predicted 0.1/3, observed 0.4) by 0.4 - 1/30; SEV1 and SEV2 are off by
    # 1/30 each. Class-wise ECE is the mean of the four.
    n = 1000
    proba = np.tile([0.1 / 3, 0.1 / 3, 0.9, 0.1 / 3], (n, 1))
    actual = np.where(np.arange(n) < 600, 2, 3).astype(np.int64)
    by_class = calibration.class_ece(proba, actual)
    assert by_class["SEV3_MEDIUM"] == pytest.approx(0.3)
    assert by_class["SEV4_LOW"] == pytest.approx(0.4 - 1 / 30)
    assert by_class["SEV1_CRITICAL"] == pytest.approx(1 / 30)
    expected = (0.3 + 0.4 - 1 / 30 + 2 / 30) / 4
    assert calibration.expected_calibration_error(proba, actual) == pytest.approx(expected)


def test_brier_coverage_and_mae() -> None:
    proba = np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    actual = np.array([0, 1], dtype=np.int64)
    # Row 1: 0; row 2: 0.25 + 0.25.
    assert calibration.brier_score(proba, actual) == pytest.approx(0.25)
    hours = np.array([1.0, 5.0, 10.0, 20.0])
    p10, p50, p90 = np.full(4, 2.0), np.full(4, 6.0), np.full(4, 10.0)
    assert calibration.interval_coverage(p10, p90, hours) == 0.5  # 5 and 10 (inclusive)
    found = calibration.figures(
        np.tile([0.25] * 4, (4, 1)), np.array([0, 1, 2, 3]), p10, p50, p90, hours
    )
    assert found.mae_p50_hours == pytest.approx((5 + 1 + 4 + 14) / 4)
    assert found.brier == pytest.approx(0.75)


MONDAY = datetime(2025, 3, 3, tzinfo=UTC)


def scored_weeks(
    proba_by_week: list[tuple[np.ndarray, np.ndarray]],
    interval: tuple[float, float],
    team: str = "payments",
    services: tuple[str, ...] = ("checkout",),
    version: int = 1,
) -> calibration.Scored:
    """`proba_by_week[i]` (probabilities, actual severities) opened in week i from MONDAY;
    resolved in 5 h, but every fifth incident in 20 h."""
    rows: list[dict[str, Any]] = []
    for week, (proba, actual) in enumerate(proba_by_week):
        for i, (p, a) in enumerate(zip(proba, actual, strict=True)):
            opened = MONDAY + timedelta(days=7 * week, minutes=10 * i)
            rows.append(
                {
                    "incident_id": f"INC-{week}-{i}",
                    "model_version": version,
                    "severity_probabilities": dict(zip(SEVERITIES, map(float, p), strict=True)),
                    "ttr_p10_hours": interval[0],
                    "ttr_p50_hours": (interval[0] + interval[1]) / 2,
                    "ttr_p90_hours": interval[1],
                    "severity": SEVERITIES[int(a)],
                    "status": "RESOLVED",
                    "created_at": opened,
                    "resolved_at": opened + timedelta(hours=20.0 if i % 5 == 0 else 5.0),
                    "closed_at": None,
                    "assigned_team": team,
                    "affected_services": list(services),
                }
            )
    return calibration.scored_from_rows(rows)


REFERENCE = calibration.Reference(
    ece=0.02,
    coverage_p10_p90=0.8,
    teams=frozenset({"payments"}),
    services=frozenset({"checkout"}),
)


def test_a_calibrated_week_is_not_flagged_and_a_shifted_one_is() -> None:
    good = calibrated()
    # The same predictions, but every incident ended one severity lower than the
    # predictions say (SEV1 -> SEV2 ...): the probabilities are shifted off the outcomes.
    shifted = (good[0], np.minimum(good[1] + 1, 3))
    now = MONDAY + timedelta(days=14, hours=1)
    fine = calibration.check_drift(scored_weeks([good, good], (1.0, 10.0)), {1: REFERENCE}, now)
    assert fine.week == MONDAY + timedelta(days=7)
    assert fine.flags == []
    drifting = calibration.check_drift(
        scored_weeks([good, shifted], (1.0, 10.0)), {1: REFERENCE}, now
    )
    assert [f.what for f in drifting.flags] == ["ece"]
    assert drifting.flags[0].value > 0.1
    # The interval misses every time to resolve (5 and 20 h are outside 6..10 h).
    missed = calibration.check_drift(scored_weeks([good, good], (6.0, 10.0)), {1: REFERENCE}, now)
    assert [(f.what, f.value) for f in missed.flags] == [("coverage", 0.0)]


def test_an_unseen_input_mix_is_flagged_and_an_unknown_version_noted() -> None:
    good = calibrated()
    now = MONDAY + timedelta(days=7)
    new_team = scored_weeks([good], (1.0, 10.0), team="search", services=("checkout", "search"))
    flags = calibration.check_drift(new_team, {1: REFERENCE}, now).flags
    assert sorted((f.what, f.value) for f in flags) == [
        ("unseen_services", 1.0),
        ("unseen_teams", 1.0),
    ]
    unknown = calibration.check_drift(new_team, {}, now)
    assert unknown.flags == [] and "version 1: not in the registry" in unknown.notes[0]
    # The week has not ended yet at `now`: nothing to judge.
    early = calibration.check_drift(new_team, {1: REFERENCE}, MONDAY + timedelta(days=6))
    assert early.week is None and early.flags == []


def test_too_few_resolved_incidents_are_not_judged_on_outcomes() -> None:
    proba = calibrated()[0]
    few = scored_weeks([(proba[:10], np.full(10, 3))], (6.0, 10.0))
    check = calibration.check_drift(few, {1: REFERENCE}, MONDAY + timedelta(days=7))
    assert check.flags == []
    assert "10 resolved incidents, fewer than 30" in check.notes[0]


@pytest.fixture(scope="module")
def throwaway_db(server_url: str) -> Iterator[str]:
    with migrated_database(server_url, "calibration_test") as url:
        yield url


@pytest.fixture
def service_db(throwaway_db: str) -> str:
    """The throwaway database, emptied of incidents, predictions and model versions."""
    with psycopg.connect(throwaway_db, autocommit=True) as pg:
        pg.execute("truncate incidents, model_versions cascade")
    return throwaway_db


def _insert(pg: psycopg.Connection[Any], n: int, shifted: bool, now: datetime) -> None:
    """`n` resolved incidents over the last three weeks, each with its creation-time
    prediction from version 1 (p10-p90 of 1-10 h, which 4 in 5 of them meet); with
    `shifted`, the last full week's severities and times disagree with the predictions."""
    proba, actual = calibrated()
    last_monday = calibration.week_start(now) - timedelta(days=7)
    for i in range(n):
        opened = last_monday - timedelta(days=14) + timedelta(hours=(21 * 24 - 1) * i / n)
        late = shifted and opened >= last_monday
        severity = SEVERITIES[min(int(actual[i % 500]) + (1 if late else 0), 3)]
        resolved = opened + timedelta(hours=30.0 if late or i % 5 == 0 else 4.0)
        pg.execute(
            "insert into incidents (incident_id, title, severity, status, affected_services,"
            " assigned_team, created_by, created_at, resolved_at)"
            " values (%s, 'Checkout errors', %s, 'RESOLVED', %s, 'payments', 'tests', %s, %s)",
            (f"CAL-{i}", severity, Jsonb(["checkout"]), opened, resolved),
        )
        pg.execute(
            "insert into incident_predictions (incident_id, model_name, model_version, trigger,"
            " elapsed_hours, severity_probabilities, suggested_severity, ttr_p10_hours,"
            " ttr_p50_hours, ttr_p90_hours, expected_remaining_hours)"
            " values (%s, %s, 1, 'created', 0, %s, 'SEV3_MEDIUM', 1, 4, 10, 4)",
            (
                f"CAL-{i}",
                SERVICE_MODEL,
                Jsonb(dict(zip(SEVERITIES, map(float, proba[i % 500]), strict=True))),
            ),
        )
    metrics = {
        "severity": {"macro_f1": 0.5},
        "ttr": {"mae_hours": 3.0, "coverage_p10_p90": 0.8},
        "calibration": {"ece": 0.02, "coverage_p10_p90": 0.8},
        "inputs": {"teams": ["payments"], "services": ["checkout"]},
    }
    pg.execute(
        "insert into model_versions (name, version, status, artifact, feature_spec, metrics,"
        " config, train_as_of, created_by) values (%s, 1, 'active', '', '{}', %s, '{}', %s,"
        " 'tests')",
        (SERVICE_MODEL, Jsonb(metrics), now - timedelta(days=30)),
    )


@pytest.mark.parametrize("shifted", [False, True])
def test_the_report_asset_writes_the_page_and_flags_drift(
    service_db: str, tmp_path: Path, shifted: bool
) -> None:
    with psycopg.connect(service_db) as pg:  # one transaction, committed on leaving
        _insert(pg, 300, shifted, datetime.now(UTC))
    result = dg.materialize(
        [model_calibration_report],
        resources={
            "postgres": PostgresResource(database_url=service_db),
            "reports": ReportsResource(path=str(tmp_path / "reports")),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    found = result.asset_materializations_for_node("model_calibration_report")[0].metadata
    metadata: dict[str, Any] = {k: v.value for k, v in found.items()}
    assert metadata["scored"] == 300
    assert metadata["resolved"] == 300
    flags = metadata["drift_flags"]
    assert isinstance(flags, list)
    if shifted:
        assert {f["what"] for f in flags} == {"coverage", "ece"}
        assert metadata["drifting"] is True
    else:
        assert flags == []
        assert metadata["ece"] < 0.05
        assert metadata["coverage_p10_p90"] == 0.8
    files = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert [Path(f).suffix for f in files] == [".html", ".md"]
    assert files[0].startswith("model-calibration-")
    html = (tmp_path / "reports" / files[0]).read_text()
    assert 'id="calibration-curve"' in html and 'id="coverage-by-week"' in html
    assert "<script src=" not in html  # self-contained: plotly.js inlined, nothing fetched
    md = (tmp_path / "reports" / files[1]).read_text()
    assert "## By model version" in md and "## Drift" in md
    assert ("**coverage** (version 1)" in md) is shifted


def test_the_report_charts_are_drawn(tmp_path: Path) -> None:
    good = calibrated()
    now = MONDAY + timedelta(days=14, hours=1)
    report = calibration_report.build(
        scored_weeks([good, good], (1.0, 10.0)), {1: REFERENCE}, SERVICE_MODEL, now
    )
    html_path, _ = calibration_report.write(report, tmp_path, "model-calibration-test")
    dom = dom_after_scripts(html_path)
    assert _drawn(dom, "calibration-curve") and _drawn(dom, "coverage-by-week")
