"""Predicted against actual: calibration of the severity probabilities, coverage of the
time-to-resolve interval, and drift flags. Plain NumPy on plain arrays, no I/O.

Definitions (the report prints them):

- Reliability: per class, predictions binned by predicted probability into `bins` equal
  bins of [0, 1]; in each, the mean predicted probability against the observed frequency
  of that class.
- ECE (expected calibration error), class-wise: per class, sum over bins of
  (bin count / n) * |mean predicted - observed frequency|; averaged over the four classes.
  0 is perfectly calibrated. With few incidents it is biased upward (each bin's frequency
  is noisy), so it is only compared against a band, and only from `min_incidents` on.
- Brier score: mean over incidents of sum over classes of (p_k - [actual == k])^2
  (0 best, 2 worst).
- Coverage: share of resolved incidents whose time to resolve lies in [p10, p90] (a
  calibrated interval covers about 80%); MAE of p50 in hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.records import SEVERITIES

N_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    severity: str
    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed: float


def _onehot(actual: NDArray[np.int64], classes: int) -> NDArray[np.float64]:
    return np.eye(classes, dtype=np.float64)[actual]


def _bin_index(p: NDArray[np.float64], bins: int) -> NDArray[np.int64]:
    # [0, 1/b), [1/b, 2/b), ... with 1.0 in the last bin.
    return np.minimum((p * bins).astype(np.int64), bins - 1)


def reliability(
    proba: NDArray[np.float64], actual: NDArray[np.int64], bins: int = N_BINS
) -> list[ReliabilityBin]:
    """Per class and non-empty bin: mean predicted probability against observed frequency."""
    hits = _onehot(actual, proba.shape[1])
    out = []
    for k, name in enumerate(SEVERITIES[: proba.shape[1]]):
        index = _bin_index(proba[:, k], bins)
        for b in range(bins):
            rows = index == b
            count = int(rows.sum())
            if count:
                out.append(
                    ReliabilityBin(
                        name,
                        b / bins,
                        (b + 1) / bins,
                        count,
                        float(proba[rows, k].mean()),
                        float(hits[rows, k].mean()),
                    )
                )
    return out


def class_ece(
    proba: NDArray[np.float64], actual: NDArray[np.int64], bins: int = N_BINS
) -> dict[str, float]:
    """ECE of each class's probability (see the module docstring); NaN with no incidents."""
    n = len(actual)
    if n == 0:
        return {name: float("nan") for name in SEVERITIES[: proba.shape[1]]}
    found: dict[str, float] = {name: 0.0 for name in SEVERITIES[: proba.shape[1]]}
    for b in reliability(proba, actual, bins):
        found[b.severity] += b.count / n * abs(b.mean_predicted - b.observed)
    return found


def expected_calibration_error(
    proba: NDArray[np.float64], actual: NDArray[np.int64], bins: int = N_BINS
) -> float:
    """Class-wise ECE averaged over the classes."""
    return float(np.mean(list(class_ece(proba, actual, bins).values())))


def brier_score(proba: NDArray[np.float64], actual: NDArray[np.int64]) -> float:
    if len(actual) == 0:
        return float("nan")
    diff = proba - _onehot(actual, proba.shape[1])
    return float(np.mean(np.sum(diff**2, axis=1)))


def interval_coverage(
    p10: NDArray[np.float64], p90: NDArray[np.float64], hours: NDArray[np.float64]
) -> float:
    if len(hours) == 0:
        return float("nan")
    return float(np.mean((hours >= p10) & (hours <= p90)))


@dataclass(frozen=True)
class Figures:
    """Calibration and interval figures over one set of resolved incidents."""

    incidents: int
    ece: float
    brier: float
    coverage_p10_p90: float
    mae_p50_hours: float
    ece_by_class: dict[str, float]

    def to_json(self) -> dict[str, object]:
        return {
            "incidents": self.incidents,
            "ece": _finite(self.ece),
            "brier": _finite(self.brier),
            "coverage_p10_p90": _finite(self.coverage_p10_p90),
            "mae_p50_hours": _finite(self.mae_p50_hours),
            "ece_by_class": {k: _finite(v) for k, v in self.ece_by_class.items()},
        }


def _finite(value: float) -> float | None:
    return round(value, 4) if np.isfinite(value) else None


def figures(
    proba: NDArray[np.float64],
    actual: NDArray[np.int64],
    p10: NDArray[np.float64],
    p50: NDArray[np.float64],
    p90: NDArray[np.float64],
    hours: NDArray[np.float64],
    bins: int = N_BINS,
) -> Figures:
    """Every figure over resolved incidents (rows aligned across the arrays)."""
    by_class = class_ece(proba, actual, bins)
    return Figures(
        incidents=len(actual),
        ece=float(np.mean(list(by_class.values()))) if len(actual) else float("nan"),
        brier=brier_score(proba, actual),
        coverage_p10_p90=interval_coverage(p10, p90, hours),
        mae_p50_hours=float(np.mean(np.abs(p50 - hours))) if len(hours) else float("nan"),
        ece_by_class=by_class,
    )


@dataclass(frozen=True)
class Scored:
    """Incidents scored at creation (one row each), with what happened to them.

    `resolved` rows have `actual` (final severity index) and `hours` (time to resolve);
    the others are still open (their `actual` and `hours` mean nothing yet).
    """

    incident_id: list[str]
    version: NDArray[np.int64]
    opened_at: list[datetime]
    proba: NDArray[np.float64]
    actual: NDArray[np.int64]
    resolved: NDArray[np.bool_]
    hours: NDArray[np.float64]
    p10: NDArray[np.float64]
    p50: NDArray[np.float64]
    p90: NDArray[np.float64]
    team: list[str]
    services: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.incident_id)

    def take(self, rows: NDArray[np.bool_]) -> Scored:
        index = np.flatnonzero(rows)
        return Scored(
            [self.incident_id[i] for i in index],
            self.version[rows],
            [self.opened_at[i] for i in index],
            self.proba[rows],
            self.actual[rows],
            self.resolved[rows],
            self.hours[rows],
            self.p10[rows],
            self.p50[rows],
            self.p90[rows],
            [self.team[i] for i in index],
            [self.services[i] for i in index],
        )

    def figures(self, bins: int = N_BINS) -> Figures:
        """Figures over the resolved rows."""
        r = self.resolved
        return figures(
            self.proba[r],
            self.actual[r],
            self.p10[r],
            self.p50[r],
            self.p90[r],
            self.hours[r],
            bins,
        )

    def weeks(self) -> list[datetime]:
        return [week_start(t) for t in self.opened_at]


def week_start(t: datetime) -> datetime:
    """Monday 00:00 of `t`'s week (in `t`'s own time zone; callers pass UTC)."""
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


_DONE = ("RESOLVED", "CLOSED")


def scored_from_rows(rows: Sequence[Mapping[str, Any]]) -> Scored:
    """Rows of the report's query (a creation-time prediction joined with its incident):
    incident_id, model_version, severity_probabilities (dict), ttr_p10/p50/p90_hours,
    severity, status, created_at, resolved_at, closed_at, assigned_team, affected_services.
    """
    resolved, hours = [], []
    # A merged duplicate has no outcome of its own (its target has): not scored.
    rows = [r for r in rows if r["status"] != "MERGED"]
    for r in rows:
        end = (r["resolved_at"] or r["closed_at"]) if r["status"] in _DONE else None
        resolved.append(end is not None)
        hours.append((end - r["created_at"]).total_seconds() / 3600.0 if end is not None else 0.0)
    return Scored(
        incident_id=[str(r["incident_id"]) for r in rows],
        version=np.array([int(r["model_version"]) for r in rows], dtype=np.int64),
        opened_at=[r["created_at"] for r in rows],
        proba=np.array(
            [[float(r["severity_probabilities"].get(s, 0.0)) for s in SEVERITIES] for r in rows],
            dtype=np.float64,
        ).reshape(len(rows), len(SEVERITIES)),
        actual=np.array(
            [SEVERITIES.index(r["severity"]) if r["severity"] in SEVERITIES else 0 for r in rows],
            dtype=np.int64,
        ),
        resolved=np.array(resolved, dtype=np.bool_),
        hours=np.array(hours, dtype=np.float64),
        p10=np.array([float(r["ttr_p10_hours"]) for r in rows], dtype=np.float64),
        p50=np.array([float(r["ttr_p50_hours"]) for r in rows], dtype=np.float64),
        p90=np.array([float(r["ttr_p90_hours"]) for r in rows], dtype=np.float64),
        team=[str(r["assigned_team"] or "") for r in rows],
        services=[tuple(str(s) for s in (r["affected_services"] or ())) for r in rows],
    )


@dataclass(frozen=True)
class Reference:
    """What a model version showed on its own evaluation window, and what it trained on."""

    ece: float | None
    coverage_p10_p90: float | None
    teams: frozenset[str] | None
    services: frozenset[str] | None


def reference_from_metrics(metrics: Mapping[str, Any]) -> Reference:
    """From the metrics the training asset registers (`calibration`, `inputs`); versions
    registered otherwise lack them, and their drift is then not judged."""
    calibration = metrics.get("calibration") or {}
    inputs = metrics.get("inputs") or {}
    ttr = metrics.get("ttr") or {}
    coverage = calibration.get("coverage_p10_p90", ttr.get("coverage_p10_p90"))
    teams, services = inputs.get("teams"), inputs.get("services")
    return Reference(
        ece=calibration.get("ece"),
        coverage_p10_p90=coverage,
        teams=frozenset(teams) if teams is not None else None,
        services=frozenset(services) if services is not None else None,
    )


@dataclass(frozen=True)
class Bands:
    """How far the latest week may stray from a version's evaluation window."""

    coverage: float = 0.10  # absolute, either way
    ece: float = 0.05  # absolute, upward only (better calibration is not drift)
    unseen_share: float = 0.20  # share of incidents with a team / service not trained on
    min_incidents: int = 30  # in the week, for the outcome figures to be judged


@dataclass(frozen=True)
class DriftFlag:
    version: int
    week: datetime
    what: str  # "coverage" | "ece" | "unseen_teams" | "unseen_services"
    value: float
    reference: float
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "week": self.week.date().isoformat(),
            "what": self.what,
            "value": round(self.value, 4),
            "reference": round(self.reference, 4),
            "message": self.message,
        }


@dataclass(frozen=True)
class DriftCheck:
    """The week judged (None when there is no complete week yet), the flags, and notes on
    what could not be judged."""

    week: datetime | None
    flags: list[DriftFlag]
    notes: list[str] = field(default_factory=list)


def latest_complete_week(scored: Scored, now: datetime) -> datetime | None:
    """The latest week (Monday 00:00) with scored incidents that has ended by `now`."""
    ended = [w for w in scored.weeks() if w + timedelta(days=7) <= now]
    return max(ended) if ended else None


def check_drift(
    scored: Scored, references: Mapping[int, Reference], now: datetime, bands: Bands = Bands()
) -> DriftCheck:
    """Flags for the latest complete week, per model version that scored in it.

    Outcome figures (coverage, ECE) against the version's evaluation window, from
    `bands.min_incidents` resolved incidents on; the input mix (teams and services not seen
    in training) over every incident scored that week, resolved or not.
    """
    week = latest_complete_week(scored, now)
    if week is None:
        return DriftCheck(None, [], ["no complete week of predictions yet"])
    in_week = np.array([w == week for w in scored.weeks()], dtype=np.bool_)
    flags: list[DriftFlag] = []
    notes: list[str] = []
    for version in sorted({int(v) for v in scored.version[in_week]}):
        rows = scored.take(in_week & (scored.version == version))
        ref = references.get(version)
        if ref is None:
            notes.append(f"version {version}: not in the registry, drift not judged")
            continue
        flags += _outcome_flags(rows, version, week, ref, bands, notes)
        flags += _input_flags(rows, version, week, ref, bands)
    return DriftCheck(week, flags, notes)


def _outcome_flags(
    rows: Scored, version: int, week: datetime, ref: Reference, bands: Bands, notes: list[str]
) -> list[DriftFlag]:
    found = rows.figures()
    if found.incidents < bands.min_incidents:
        notes.append(
            f"version {version}, week of {week:%Y-%m-%d}: {found.incidents} resolved incidents,"
            f" fewer than {bands.min_incidents}; calibration and coverage not judged"
        )
        return []
    flags = []
    cov, ref_cov = found.coverage_p10_p90, ref.coverage_p10_p90
    if ref_cov is not None and abs(cov - ref_cov) > bands.coverage:
        flags.append(
            DriftFlag(
                version,
                week,
                "coverage",
                cov,
                ref_cov,
                f"p10-p90 coverage {cov:.2f} against {ref_cov:.2f} on the evaluation window"
                f" (band +/-{bands.coverage:.2f})",
            )
        )
    if ref.ece is not None and found.ece > ref.ece + bands.ece:
        flags.append(
            DriftFlag(
                version,
                week,
                "ece",
                found.ece,
                ref.ece,
                f"severity ECE {found.ece:.3f} against {ref.ece:.3f} on the evaluation window"
                f" (band +{bands.ece:.2f})",
            )
        )
    return flags


def _input_flags(
    rows: Scored, version: int, week: datetime, ref: Reference, bands: Bands
) -> list[DriftFlag]:
    flags = []
    if ref.teams is not None and len(rows):
        share = float(np.mean([t not in ref.teams for t in rows.team]))
        if share > bands.unseen_share:
            flags.append(
                DriftFlag(
                    version,
                    week,
                    "unseen_teams",
                    share,
                    0.0,
                    f"{share:.0%} of incidents are assigned to a team the version never saw"
                    f" in training (limit {bands.unseen_share:.0%})",
                )
            )
    if ref.services is not None and len(rows):
        known = ref.services
        share = float(np.mean([any(s not in known for s in svc) for svc in rows.services]))
        if share > bands.unseen_share:
            flags.append(
                DriftFlag(
                    version,
                    week,
                    "unseen_services",
                    share,
                    0.0,
                    f"{share:.0%} of incidents affect a service the version never saw in"
                    f" training (limit {bands.unseen_share:.0%})",
                )
            )
    return flags


def by_version(scored: Scored) -> list[tuple[int, Figures]]:
    return [
        (v, scored.take(scored.version == v).figures())
        for v in sorted({int(x) for x in scored.version})
    ]


def by_week(scored: Scored) -> list[tuple[datetime, int, Figures]]:
    """(week, version, figures) for each week and version with resolved incidents."""
    weeks = scored.weeks()
    out = []
    for week in sorted(set(weeks)):
        in_week = np.array([w == week for w in weeks], dtype=np.bool_)
        for v in sorted({int(x) for x in scored.version[in_week]}):
            rows = scored.take(in_week & (scored.version == v))
            if rows.resolved.any():
                out.append((week, v, rows.figures()))
    return out
