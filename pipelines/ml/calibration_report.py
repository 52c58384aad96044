"""The model calibration report: the served model's predictions at creation against what
happened, per version and per week, with the drift flags. A self-contained HTML page
(plotly.js inlined) and a Markdown summary, like the reliability report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import psycopg
from psycopg.rows import dict_row

from incident_service.postmortems.html import figure_div, markdown_to_html, page
from models.records import SEVERITIES
from pipelines.ml.calibration import (
    N_BINS,
    Bands,
    DriftCheck,
    Figures,
    Reference,
    Scored,
    by_version,
    by_week,
    check_drift,
    reference_from_metrics,
    reliability,
    scored_from_rows,
)

# The first prediction stored at creation, per incident, of one model name (a retried
# scoring can store two), with the incident as it is now.
PREDICTIONS_SQL = """
select distinct on (p.incident_id)
       p.incident_id, p.model_version, p.severity_probabilities,
       p.ttr_p10_hours, p.ttr_p50_hours, p.ttr_p90_hours,
       i.severity, i.status, i.created_at, i.resolved_at, i.closed_at,
       i.assigned_team, i.affected_services
from incident_predictions p
join incidents i using (incident_id)
where p.model_name = %(name)s and p.trigger = 'created' and i.created_at >= %(since)s
order by p.incident_id, p.id
"""


def read_scored(
    conn: psycopg.Connection[Any], name: str, since: datetime
) -> tuple[Scored, dict[int, Reference]]:
    """Predictions at creation of incidents opened since `since`, and each version's
    reference figures from the registry."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(PREDICTIONS_SQL, {"name": name, "since": since}).fetchall()
        refs = cur.execute(
            "select version, metrics from model_versions where name = %s", (name,)
        ).fetchall()
    rows.sort(key=lambda r: (r["created_at"], r["incident_id"]))
    return scored_from_rows(rows), {
        int(r["version"]): reference_from_metrics(r["metrics"] or {}) for r in refs
    }


@dataclass(frozen=True)
class CalibrationReport:
    title: str
    markdown: str
    html: str
    overall: Figures | None
    drift: DriftCheck
    scored: int


def build(
    scored: Scored,
    references: Mapping[int, Reference],
    name: str,
    now: datetime | None = None,
    bands: Bands = Bands(),
) -> CalibrationReport:
    now = now or datetime.now(UTC)
    drift = check_drift(scored, references, now, bands)
    resolved = int(scored.resolved.sum())
    if resolved == 0:
        title = f"Model calibration ({name}): no resolved incidents with a prediction yet"
        md = _head(title, now, len(scored), 0) + _drift_md(drift)
        return CalibrationReport(title, md, page(title, markdown_to_html(md)), None, drift, 0)
    overall = scored.figures()
    title = f"Model calibration ({name}), {resolved} resolved incidents"
    md = _markdown(title, now, scored, references, drift)
    head, rest = md.split("\n## ", 1)
    charts = _charts(scored)
    body = markdown_to_html(head) + "".join(charts) + markdown_to_html("## " + rest)
    return CalibrationReport(title, md, page(title, body), overall, drift, len(scored))


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _head(title: str, now: datetime, scored: int, resolved: int) -> str:
    return (
        f"# {title}\n\nGenerated {now:%Y-%m-%d %H:%M} UTC from `incident_predictions`"
        f" (the prediction made when each incident was created): {scored} incidents scored,"
        f" {resolved} of them resolved. Only resolved incidents have an outcome to compare,"
        " so the latest weeks lean towards quick resolutions.\n\n"
    )


def _figures_row(label: list[str], f: Figures) -> str:
    cells = [
        *label,
        str(f.incidents),
        _f(f.ece),
        _f(f.brier),
        _f(f.coverage_p10_p90, 2),
        _f(f.mae_p50_hours, 1),
    ]
    return "| " + " | ".join(cells) + " |"


def _drift_md(drift: DriftCheck) -> str:
    lines = ["## Drift", ""]
    if drift.week is not None:
        lines.append(f"Judged on the latest complete week, {drift.week:%Y-%m-%d}.")
        lines.append("")
    if drift.flags:
        lines += [f"- **{f.what}** (version {f.version}): {f.message}" for f in drift.flags]
    else:
        lines.append("- No drift flagged.")
    lines += [f"- {note}" for note in drift.notes]
    return "\n".join(lines) + "\n"


def _markdown(
    title: str,
    now: datetime,
    scored: Scored,
    references: Mapping[int, Reference],
    drift: DriftCheck,
) -> str:
    header = "| ECE | Brier | p10-p90 coverage | MAE p50 h |"
    rule = " --- | --- | --- | --- | --- |"
    lines = [_head(title, now, len(scored), int(scored.resolved.sum())).rstrip(), ""]
    lines += [
        "## By model version",
        "",
        "Against each version's own evaluation window (the later part of its training history)"
        " in the last two columns.",
        "",
        "| version | incidents " + header + " eval ECE | eval coverage |",
        "|" + " --- |" + rule + " --- | --- |",
    ]
    for version, f in by_version(scored):
        ref = references.get(version)
        row = _figures_row([str(version)], f)
        lines.append(
            row
            + f" {_f(ref.ece if ref else None)} | {_f(ref.coverage_p10_p90 if ref else None, 2)} |"
        )
    lines += [
        "",
        "## By week",
        "",
        "Weeks (Monday 00:00 UTC) in which the incidents opened.",
        "",
        "| week | version | incidents " + header,
        "| --- |" + " --- |" + rule,
    ]
    lines += [_figures_row([f"{w:%Y-%m-%d}", str(v)], f) for w, v, f in by_week(scored)]
    lines += ["", _drift_md(drift).rstrip(), ""]
    r = scored.resolved
    lines += [
        "## Reliability",
        "",
        f"Predicted probability of each severity in {N_BINS} bins against how often it was"
        " the final severity (all versions).",
        "",
        "| severity | bin | incidents | mean predicted | observed |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {b.severity} | {b.lower:.1f}-{b.upper:.1f} | {b.count} | {b.mean_predicted:.3f} |"
        f" {b.observed:.3f} |"
        for b in reliability(scored.proba[r], scored.actual[r])
    ]
    lines += [
        "",
        "## Definitions",
        "",
        "- ECE: per severity, the count-weighted mean gap between the predicted probability and"
        f" the observed frequency over {N_BINS} probability bins; averaged over the four"
        " severities (0 is perfectly calibrated; noisy on few incidents).",
        "- Brier: mean over incidents of the squared error of the four probabilities (0 best).",
        "- p10-p90 coverage: share of resolved incidents whose time to resolve fell in the"
        " predicted interval (about 0.80 when calibrated). MAE p50: mean absolute error of the"
        " predicted median, in hours.",
        "- Drift: in the latest complete week, per version, coverage outside the evaluation"
        " window's +/- the band, ECE above the evaluation window's + the band, or too many"
        " incidents on teams or services the version did not train on.",
    ]
    return "\n".join(lines) + "\n"


def _charts(scored: Scored) -> list[str]:
    r = scored.resolved
    bins = reliability(scored.proba[r], scored.actual[r])
    curve = go.Figure()
    curve.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], name="perfect", mode="lines", line={"dash": "dot"})
    )
    for severity in SEVERITIES:
        mine = [b for b in bins if b.severity == severity]
        curve.add_trace(
            go.Scatter(
                x=[b.mean_predicted for b in mine],
                y=[b.observed for b in mine],
                name=severity,
                mode="lines+markers",
                text=[f"{b.count} incidents" for b in mine],
            )
        )
    curve.update_layout(
        title="Calibration: predicted probability against observed frequency",
        xaxis_title="predicted",
        yaxis_title="observed",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1],
    )
    weekly = by_week(scored)
    coverage = go.Figure()
    for version in sorted({v for _, v, _ in weekly}):
        points = [(w, f) for w, v, f in weekly if v == version]
        coverage.add_trace(
            go.Scatter(
                x=[w.strftime("%Y-%m-%d") for w, _ in points],
                y=[f.coverage_p10_p90 for _, f in points],
                name=f"coverage, v{version}",
                mode="lines+markers",
            )
        )
        coverage.add_trace(
            go.Scatter(
                x=[w.strftime("%Y-%m-%d") for w, _ in points],
                y=[f.ece for _, f in points],
                name=f"ECE, v{version}",
                mode="lines+markers",
                line={"dash": "dash"},
            )
        )
    coverage.update_layout(
        title="p10-p90 coverage (target 0.8) and severity ECE by week", yaxis_range=[0, 1]
    )
    return [
        "<h2>Charts</h2>",
        figure_div(curve, "calibration-curve"),
        figure_div(coverage, "coverage-by-week"),
    ]


def write(report: CalibrationReport, folder: Path, stem: str | None = None) -> list[Path]:
    """Write ``<stem>.html`` and ``<stem>.md`` into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or f"model-calibration-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    html_path, md_path = folder / f"{stem}.html", folder / f"{stem}.md"
    html_path.write_text(report.html, encoding="utf-8")
    md_path.write_text(report.markdown, encoding="utf-8")
    return [html_path, md_path]


def since(now: datetime, weeks: int) -> datetime:
    """The start of the report's period: `weeks` whole weeks before `now`'s week."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday() + 7 * weeks)
