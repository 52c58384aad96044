"""What the model notebook (`notebooks/models.py`) shows, as plain tested functions.

Histories come from the warehouse's `fct_incidents` (the synthetic, ServiceNow and service
incidents alike), each incident as it stood when opened, the same way the post-mortems
score them (`incident_service/postmortems/predictions.py`): text = title, fields =
{team}, services = affected services. Model versions are `models.serving.Artifact`s,
read from the registry table (`model_versions`, when it exists) or from `.npz` files.

Everything is judged on a window later than the one the model was trained on: calibration
of P(SEV1 or SEV2), coverage of the time-to-resolve quantiles against their nominal level,
the confusion matrix of the suggested severity, drift week by week, and a what-if that
re-scores an edited incident and runs the response policies on the prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from sklearn.metrics import confusion_matrix as sk_confusion

from models.config import ModelConfig
from models.evaluate import EvalData, evaluate_artifact, later_than
from models.features import featurize_many
from models.metrics import severity_metrics, ttr_metrics
from models.records import SEVERITIES, IncidentHistory, OpenedIncident, Outcomes
from models.service_records import opened_from_service
from models.serving import QUANTILES, Artifact, Prediction
from models.survival import quantiles
from models.train import censor_at

_SEVERITY_INDEX = {name: i for i, name in enumerate(SEVERITIES)}
_EPOCH_MONDAY = datetime(1970, 1, 5)  # weeks start Monday 00:00 UTC, as in the marts


def _naive(moment: datetime) -> datetime:
    """Naive UTC, as `OpenedIncident.opened_at` is."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def opened_incident(
    title: str, team: str, services: Sequence[str], opened_at: datetime, description: str = ""
) -> OpenedIncident:
    """An incident as known when it opened, mapped as the service maps its own."""
    return opened_from_service(
        {
            "title": title,
            "description": description,
            "assigned_team": team,
            "affected_services": list(services),
            "created_at": opened_at,
        }
    )


def history_from_incidents(frame: pl.DataFrame, as_of: datetime) -> IncidentHistory:
    """`fct_incidents` rows (title, severity, assigned_team, affected_services, created_at,
    resolved_at) to a history ordered by opening, outcomes as of `as_of`; rows opened after
    `as_of` or with an unknown severity are left out."""
    as_of = _naive(as_of)
    rows = frame.sort("created_at").to_dicts()
    incidents, severity, duration, observed = [], [], [], []
    for r in rows:
        opened = _naive(r["created_at"])
        if opened > as_of or r["severity"] not in _SEVERITY_INDEX:
            continue
        resolved = _naive(r["resolved_at"]) if r["resolved_at"] is not None else None
        done = resolved is not None and resolved <= as_of
        end = resolved if done and resolved is not None else as_of
        incidents.append(
            opened_incident(
                r["title"] or "", r["assigned_team"] or "", r["affected_services"] or (), opened
            )
        )
        severity.append(_SEVERITY_INDEX[r["severity"]])
        duration.append(max((end - opened).total_seconds() / 3600.0, 0.0))
        observed.append(done)
    outcomes = Outcomes(
        np.array(severity, dtype=np.int64),
        np.array(duration, dtype=np.float64),
        np.array(observed, dtype=np.bool_),
    )
    return IncidentHistory(incidents, outcomes, as_of)


def window_end(frame: pl.DataFrame) -> datetime:
    """The latest moment the rows know of (an opening or a resolution): their "as of"."""
    latest = [frame[c].max() for c in ("created_at", "resolved_at") if frame.height]
    known = [m for m in latest if isinstance(m, datetime)]
    return max(known) if known else datetime.now(UTC)


def default_cutoff(history: IncidentHistory, train_share: float = 0.7) -> datetime:
    """The opening time before which `train_share` of the incidents opened."""
    opened = history.opened()
    if not len(opened):
        return history.as_of
    moment = np.sort(opened)[min(int(len(opened) * train_share), len(opened) - 1)]
    return datetime.fromisoformat(str(moment.astype("datetime64[s]")))


def time_split(history: IncidentHistory, cutoff: datetime) -> EvalData:
    """Train on what was known at `cutoff`; test on what opened after it."""
    cutoff = _naive(cutoff)
    before = history.take(history.opened() < np.datetime64(cutoff, "s"))
    return EvalData(censor_at(before, cutoff), later_than(history, cutoff))


@dataclass(frozen=True)
class ModelVersion:
    """One model version and where it came from (``registry`` or a file)."""

    name: str
    version: int
    status: str
    source: str
    artifact: Artifact
    # What the version recorded at registration (evaluation, gate, folds); empty for files.
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"


def versions_from_folder(folder: Path) -> list[ModelVersion]:
    """``<name>-v<N>.npz`` files in `folder` (other names count as version 1), oldest first."""
    found = []
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        name, _, number = path.stem.rpartition("-v")
        version = int(number) if name and number.isdigit() else 1
        found.append(
            ModelVersion(
                name if name and number.isdigit() else path.stem,
                version,
                "file",
                str(path),
                Artifact.from_bytes(path.read_bytes()),
            )
        )
    return sorted(found, key=lambda v: (v.name, v.version))


def versions_from_registry(database_url: str) -> list[ModelVersion]:
    """Every version in the `model_versions` table (migration 0040); none when it is absent."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as pg:
        present = pg.execute("select to_regclass('model_versions') is not null").fetchone()
        if not present or not present[0]:
            return []
        rows = pg.execute(
            "select name, version, status, artifact, metrics from model_versions"
            " order by name, version"
        ).fetchall()
    return [
        ModelVersion(str(n), int(v), str(s), "registry", Artifact.from_bytes(bytes(a)), m or {})
        for n, v, s, a, m in rows
    ]


def model_card(version: ModelVersion, test: IncidentHistory) -> str:
    """The version's model card (Markdown): from what it recorded at registration, or, for a
    version without a recorded evaluation (a file), from its evaluation on `test`."""
    from models.card import card_markdown
    from models.evaluate import version_evaluation

    metrics = dict(version.metrics)
    if not metrics.get("evaluation"):
        metrics |= version_evaluation(version.artifact, test)
        metrics["note"] = "evaluated on the notebook's test window"
    return card_markdown(version.name, version.version, metrics, version.status)


def metrics_side_by_side(versions: Sequence[ModelVersion], test: IncidentHistory) -> pl.DataFrame:
    """One row per version: its severity and time-to-resolve metrics on `test`."""
    rows: list[dict[str, Any]] = []
    for v in versions:
        m = evaluate_artifact(v.artifact, test)
        sev: Mapping[str, Any] = m["severity"]  # type: ignore[assignment]
        ttr: Mapping[str, float] = m["ttr"]  # type: ignore[assignment]
        rows.append(
            {
                "version": v.label,
                "macro_f1": sev["macro_f1"],
                "auc_high": sev["auc_high"],
                **{f"recall_{k.split('_')[0].lower()}": r for k, r in sev["recall"].items()},
                **ttr,
            }
        )
    return pl.DataFrame(rows)


@dataclass(frozen=True)
class Scored:
    """A version's predictions on a window, aligned with its incidents (n of them)."""

    proba: NDArray[np.float64]  # (n, 4)
    suggested: NDArray[np.int64]  # (n,)
    pmf: NDArray[np.float64]  # (n, B)
    edges: NDArray[np.float64]  # (B + 1,)


def score_window(artifact: Artifact, history: IncidentHistory) -> Scored:
    x = featurize_many(history.incidents, artifact.spec)
    proba = artifact.severity_proba(x)
    return Scored(proba, artifact.suggested(proba), artifact.ttr_pmf(x), artifact.edges)


def calibration(scored: Scored, history: IncidentHistory, bins: int = 10) -> pl.DataFrame:
    """P(SEV1 or SEV2) in equal-width bins: mean predicted against the observed share."""
    predicted = scored.proba[:, 0] + scored.proba[:, 1]
    actual = (history.outcomes.severity <= 1).astype(np.float64)
    which = np.clip((predicted * bins).astype(np.int64), 0, bins - 1)
    frame = pl.DataFrame({"bin": which, "predicted": predicted, "actual": actual})
    return (
        frame.group_by("bin")
        .agg(
            pl.col("predicted").mean().alias("mean_predicted"),
            pl.col("actual").mean().alias("observed_share"),
            pl.len().alias("incidents"),
        )
        .sort("bin")
    )


def interval_coverage(
    scored: Scored, history: IncidentHistory, levels: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9)
) -> pl.DataFrame:
    """For each quantile level q, the share of resolved incidents resolved by the predicted
    q-quantile (ideal: q), and the p10-p90 coverage (ideal: 0.8)."""
    obs = history.outcomes.observed
    d = history.outcomes.duration_hours[obs]
    q = quantiles(scored.pmf[obs], scored.edges, tuple(levels))
    below = [float(np.mean(d <= q[:, i])) if d.size else float("nan") for i in range(len(levels))]
    return pl.DataFrame(
        {"nominal": list(levels), "observed": below, "resolved": [int(d.size)] * len(levels)}
    )


def confusion(scored: Scored, history: IncidentHistory) -> NDArray[np.int64]:
    """(4, 4) counts: rows the final severity, columns the suggested one (SEV1 first)."""
    labels = list(range(len(SEVERITIES)))
    return np.asarray(
        sk_confusion(history.outcomes.severity, scored.suggested, labels=labels), dtype=np.int64
    )


def drift_by_week(scored: Scored, history: IncidentHistory) -> pl.DataFrame:
    """Week by week on the window: incidents, predicted vs observed share of SEV1/SEV2,
    macro-F1, median predicted vs observed hours to resolve, MAE and p10-p90 coverage."""
    opened = history.opened()
    weeks = (opened - np.datetime64(_EPOCH_MONDAY, "s")).astype(np.int64) // (7 * 86400)
    q = quantiles(scored.pmf, scored.edges, QUANTILES)
    rows = []
    for w in np.unique(weeks):
        m = weeks == w
        o = history.outcomes.subset(m)
        sev = severity_metrics(o.severity, scored.proba[m], scored.suggested[m])
        ttr = ttr_metrics(o.duration_hours, o.observed, q[m, 0], q[m, 1], q[m, 2])
        rows.append(
            {
                "week": _EPOCH_MONDAY + timedelta(weeks=int(w)),
                "incidents": int(m.sum()),
                "predicted_high_share": float((scored.proba[m, 0] + scored.proba[m, 1]).mean()),
                "observed_high_share": float((o.severity <= 1).mean()),
                "macro_f1": sev["macro_f1"],
                "predicted_p50_hours": float(np.median(q[m, 1])),
                "observed_median_hours": float(np.median(o.duration_hours[o.observed]))
                if o.observed.any()
                else float("nan"),
                "mae_hours": ttr["mae_hours"],
                "coverage_p10_p90": ttr["coverage_p10_p90"],
            }
        )
    return pl.DataFrame(rows)


@dataclass(frozen=True)
class WhatIf:
    """An edited incident's prediction and the automated responses the policies choose."""

    prediction: Prediction
    actions: list[dict[str, Any]]
    matched: list[dict[str, Any]]


def what_if(
    artifact: Artifact,
    *,
    title: str,
    severity: str,
    team: str,
    services: Sequence[str],
    opened_at: datetime,
    labels: Mapping[str, str] | None = None,
    policy_file: Path | None = None,
    gate: Mapping[str, Any] | None = None,
) -> WhatIf:
    """Score the incident as given and decide its responses with the service's policies
    (`predicted.*` carries the prediction, as the models feed the service).

    `gate`: the version's recorded quality gate; by default the what-if asks what the
    policies would do if the version passed it (pass the recorded one to see the service's
    actual behaviour: below its gate, the policies on predictions are skipped)."""
    from incident_service.predictions.scorer import predictions_document
    from incident_service.responses.policies import decide, incident_context, load_policies
    from incident_service.worker_app import action_types

    prediction = artifact.score(opened_incident(title, team, services, opened_at))
    policies = load_policies(policy_file, action_types())
    context = incident_context(
        severity=severity,
        assigned_team=team,
        affected_services=list(services),
        labels=dict(labels or {}),
        title=title,
        predicted=predictions_document(
            prediction,
            model="what-if",
            version=0,
            trigger="created",
            scored_at=opened_at,
            elapsed_hours=0.0,
            gate=gate if gate is not None else {"passed": True, "failed": []},
        ),
    )
    decision = decide(policies, context)
    actions = [
        {"position": a.position, "action": a.spec.type, "policy": a.policy_id}
        for a in decision.actions
    ]
    return WhatIf(prediction, actions, decision.matched)


def train_version(
    history: IncidentHistory,
    folder: Path,
    name: str,
    version: int,
    config: ModelConfig,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Train one version on `history` and write it as ``<name>-v<version>.npz``."""
    from models.train import fit

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-v{version}.npz"
    path.write_bytes(fit(config, history, progress).to_bytes())
    return path


def with_tuned_offsets(artifact: Artifact, validation: IncidentHistory) -> Artifact:
    """The same networks with severity decision offsets tuned for macro-F1 on `validation`
    (what ``tune_severity_offsets`` does inside training), as a version to compare."""
    from dataclasses import replace

    from models.train import tune_offsets

    scored = score_window(artifact, validation)
    offsets = tune_offsets(scored.proba, validation.outcomes.severity)
    training = {**artifact.training, "offsets_tuned_on": len(validation)}
    return replace(artifact, severity_offsets=offsets, training=training)


def models_dir(env: Mapping[str, str] | None = None) -> Path:
    """``MODELS_DIR``, else ``DATA_DIR/models`` (where `make notebooks` trains demo versions)."""
    import os

    env = os.environ if env is None else env
    return Path(env.get("MODELS_DIR") or Path(env.get("DATA_DIR", ".data")) / "models")


def available_versions(env: Mapping[str, str] | None = None) -> tuple[list[ModelVersion], str]:
    """The registry's versions (when ``DATABASE_URL`` is set) and the folder's; plus a note
    saying where they came from, or why the registry could not be read."""
    import os

    import psycopg

    env = os.environ if env is None else env
    found: list[ModelVersion] = []
    notes = []
    if env.get("DATABASE_URL"):
        try:
            found += versions_from_registry(env["DATABASE_URL"])
            notes.append("the model registry")
        except psycopg.Error as exc:
            notes.append(f"not the registry ({type(exc).__name__}: {exc})")
    folder = models_dir(env)
    found += versions_from_folder(folder)
    notes.append(f"`{folder}`")
    return found, "versions from " + " and ".join(notes)
