"""The reliability report: a self-contained HTML page and a Markdown summary, built from
the marts (`rpt_reliability_weekly`, `rpt_oncall_load_weekly`,
`rpt_automated_response_effectiveness`, `rpt_merges_weekly`), with every metric's
definition as written in the SQL. A merged duplicate counts once, as the incident it was
merged into: the weekly counts and MTTx leave merged incidents out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl

from incident_service.postmortems.html import figure_div, markdown_to_html, md_text, page
from pipelines import sql_transforms

SEVERITY_COLUMNS = ("sev1_incidents", "sev2_incidents", "sev3_incidents", "sev4_incidents")
_MARTS = (
    "rpt_reliability_weekly",
    "rpt_oncall_load_weekly",
    "rpt_automated_response_effectiveness",
    "rpt_responder_record_weekly",
    "rpt_merges_weekly",
)


@dataclass(frozen=True)
class ReliabilityReport:
    title: str
    markdown: str
    html: str
    weeks: int
    first_week: datetime | None
    last_week: datetime | None


def _frame(duck: duckdb.DuckDBPyConnection, query: str, params: list[object]) -> pl.DataFrame:
    frame = pl.from_arrow(duck.sql(query, params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)  # a table, never a single column
    return frame


def _hours(value: object) -> str:
    return f"{float(value) / 3600:.2f} h" if isinstance(value, int | float) else "n/a"


def _pct(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else "n/a"


def build(
    duck: duckdb.DuckDBPyConnection, weeks: int = 12, generated_at: datetime | None = None
) -> ReliabilityReport:
    """The report over the last `weeks` weeks that have incidents."""
    generated_at = generated_at or datetime.now(UTC)
    last = duck.execute("select max(week) from rpt_reliability_weekly").fetchall()[0][0]
    if last is None:
        title = "Reliability report: no incidents yet"
        md = f"# {title}\n\nGenerated {generated_at:%Y-%m-%d %H:%M} UTC.\n"
        return ReliabilityReport(title, md, page(title, markdown_to_html(md)), 0, None, None)
    since_rows = duck.execute(
        "select min(week) from (select distinct week from rpt_reliability_weekly"
        " order by week desc limit ?)",
        [weeks],
    ).fetchall()
    first = since_rows[0][0]
    totals = _frame(
        duck,
        "select * from rpt_reliability_weekly where is_total and week >= ? order by week",
        [first],
    )
    by_service = _frame(
        duck,
        "select team, service, sum(incidents) as incidents, sum(sev1_incidents) as sev1,"
        " sum(repeat_incidents) as repeats from rpt_reliability_weekly"
        " where not is_total and week >= ? group by team, service"
        " order by incidents desc, service limit 10",
        [first],
    )
    by_team = _frame(
        duck,
        "select team, sum(incidents) as incidents, sum(after_hours_pages) as after_hours,"
        " sum(ack_slo_attainment * incidents) / sum(incidents) as ack_slo,"
        " sum(resolve_slo_attainment * incidents) / sum(incidents) as resolve_slo"
        " from rpt_reliability_weekly where not is_total and week >= ?"
        " group by team order by incidents desc limit 15",
        [first],
    )
    oncall = _frame(
        duck,
        "select team, engineer, sum(pages) as pages, sum(after_hours_pages) as after_hours"
        " from rpt_oncall_load_weekly where week >= ? group by team, engineer"
        " order by after_hours desc, pages desc, engineer limit 15",
        [first],
    )
    automation = _frame(
        duck,
        "select * from rpt_automated_response_effectiveness order by runs desc limit 15",
        [],
    )
    record = _frame(
        duck,
        "select team, sum(incidents) as incidents,"
        " sum(incidents_with_commander) / sum(incidents) as commanded_share,"
        " median(commander_p50_s) as commander_s,"
        " sum(incidents_with_update) / sum(incidents) as updated_share,"
        " median(first_update_p50_s) as first_update_s, sum(update_reminders) as reminders,"
        " sum(follow_ups) as follow_ups, sum(follow_ups_done) as done,"
        " sum(follow_ups_open) as still_open, sum(follow_ups_overdue) as overdue,"
        " sum(follow_ups_done) / nullif(sum(follow_ups) - sum(follow_ups_wont_do), 0)"
        " as completion"
        " from rpt_responder_record_weekly where week >= ?"
        " group by team order by incidents desc, team limit 15",
        [first],
    )
    merges = _frame(
        duck,
        "select team, sum(merges)::bigint as merges, sum(merge_targets)::bigint as targets"
        " from rpt_merges_weekly where week >= ? group by team order by merges desc, team"
        " limit 15",
        [first],
    )
    title = f"Reliability report, weeks of {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    md = _markdown(title, generated_at, totals, by_service, by_team, oncall, automation, record)
    md = md.replace("\n## Metric definitions", _merges_section(merges) + "\n## Metric definitions")
    charts = _charts(totals, by_service, oncall)
    body = (
        markdown_to_html(md.split("\n## ", 1)[0])
        + "".join(charts)
        + markdown_to_html("## " + md.split("\n## ", 1)[1])
    )
    return ReliabilityReport(title, md, page(title, body), totals.height, first, last)


def _markdown(
    title: str,
    generated_at: datetime,
    totals: pl.DataFrame,
    by_service: pl.DataFrame,
    by_team: pl.DataFrame,
    oncall: pl.DataFrame,
    automation: pl.DataFrame,
    record: pl.DataFrame,
) -> str:
    lines = [
        f"# {title}",
        "",
        f"Generated {generated_at:%Y-%m-%d %H:%M} UTC from the warehouse. The latest week may"
        " still be in progress: its incidents not yet acknowledged or resolved count as"
        " missed for the SLOs.",
        "",
    ]
    lines += [
        "## Week by week",
        "",
        "| week | incidents | SEV1 | SEV2 | MTTA p50 | MTTR p50 | MTTR p90 |"
        " ack SLO | resolve SLO |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in totals.iter_rows(named=True):
        lines.append(
            f"| {r['week']:%Y-%m-%d} | {r['incidents']} | {r['sev1_incidents']} |"
            f" {r['sev2_incidents']} | {_hours(r['mtta_p50_s'])} | {_hours(r['mttr_p50_s'])} |"
            f" {_hours(r['mttr_p90_s'])} | {_pct(r['ack_slo_attainment'])} |"
            f" {_pct(r['resolve_slo_attainment'])} |"
        )
    lines += [
        "",
        "## Top noisy services",
        "",
        "| team | service | incidents | SEV1 | repeats |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(r['team'])} | {_cell(r['service'])} | {r['incidents']} | {r['sev1']} |"
        f" {r['repeats']} |"
        for r in by_service.iter_rows(named=True)
    ]
    lines += [
        "",
        "## Teams",
        "",
        "| team | incidents | after-hours pages | ack SLO | resolve SLO |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(r['team'])} | {r['incidents']} | {r['after_hours']} | {_pct(r['ack_slo'])} |"
        f" {_pct(r['resolve_slo'])} |"
        for r in by_team.iter_rows(named=True)
    ]
    lines += [
        "",
        "## On-call load",
        "",
        "| team | engineer | pages | after hours |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(r['team'])} | {_cell(r['engineer'])} | {r['pages']} | {r['after_hours']} |"
        for r in oncall.iter_rows(named=True)
    ]
    lines += ["", "## Automated responses", ""]
    if automation.height:
        lines += [
            "| action | service | runs | success rate | mean run | MTTR with | MTTR without |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(r['action_type'])} | {_cell(r['service'])} | {r['runs']} |"
            f" {_pct(r['success_rate'])} | {_hours(r['mean_run_s'])} |"
            f" {_hours(r['mttr_with_s'])} | {_hours(r['mttr_without_s'])} |"
            for r in automation.iter_rows(named=True)
        ]
    else:
        lines.append("No automated responses ran in this period.")
    lines += [
        "",
        "## The responder's record",
        "",
        "Commanders, stakeholder updates (times: the median of the weekly medians) and the"
        " follow-ups of the period's incidents; overdue as of this report.",
        "",
        "| team | incidents | with a commander | to commander | with an update |"
        " first update | reminders | follow-ups | done | open | overdue | completion |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(r['team'])} | {r['incidents']} | {_pct(r['commanded_share'])} |"
        f" {_hours(r['commander_s'])} | {_pct(r['updated_share'])} |"
        f" {_hours(r['first_update_s'])} | {r['reminders']} | {r['follow_ups']} |"
        f" {r['done']} | {r['still_open']} | {r['overdue']} | {_pct(r['completion'])} |"
        for r in record.iter_rows(named=True)
    ]
    lines += [
        "",
        "## Metric definitions",
        "",
        "Each metric is defined once, in the SQL of its mart; this is that definition.",
        "",
        "| mart | metric | definition | SQL |",
        "| --- | --- | --- | --- |",
    ]
    for mart in _MARTS:
        for m in sql_transforms.metrics(mart):
            lines.append(f"| {mart} | {m.name} | {_cell(m.definition)} | `{_code(m.expression)}` |")
    return "\n".join(lines) + "\n"


def _merges_section(merges: pl.DataFrame) -> str:
    """Duplicates merged away, by team (they are not in the counts above)."""
    lines = ["", "## Merged duplicates", ""]
    if not merges.height:
        return "\n".join([*lines, "No incidents were merged in this period.", ""])
    lines += [
        "Merged incidents are left out of the counts and MTTx above: each counts once, as"
        " the incident it was merged into.",
        "",
        "| team | merged | into |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(r['team'])} | {r['merges']} | {r['targets']} |"
        for r in merges.iter_rows(named=True)
    ]
    return "\n".join([*lines, ""])


def _cell(value: object) -> str:
    # Team, service and engineer names are people's text: shown, never markup.
    return md_text(value)


def _code(value: object) -> str:
    # Inside a code span only a pipe (the table's cell border) needs escaping.
    return str(value).replace("|", "\\|").replace("\n", " ")


def _charts(totals: pl.DataFrame, by_service: pl.DataFrame, oncall: pl.DataFrame) -> list[str]:
    weeks = [w.strftime("%Y-%m-%d") for w in totals["week"].to_list()]
    trend = go.Figure()
    for column, name in (
        ("mtta_p50_s", "MTTA p50"),
        ("mttr_p50_s", "MTTR p50"),
        ("mttr_p90_s", "MTTR p90"),
    ):
        trend.add_trace(
            go.Scatter(
                x=weeks, y=(totals[column] / 3600).to_list(), name=name, mode="lines+markers"
            )
        )
    trend.update_layout(title="MTTA and MTTR by week (hours)", yaxis_type="log")
    mix = go.Figure()
    for column in SEVERITY_COLUMNS:
        mix.add_trace(
            go.Bar(x=weeks, y=totals[column].to_list(), name=column.split("_")[0].upper())
        )
    mix.update_layout(title="Severity mix by week", barmode="stack")
    slo = go.Figure()
    for column, name in (
        ("ack_slo_attainment", "acknowledge"),
        ("resolve_slo_attainment", "resolve"),
    ):
        slo.add_trace(
            go.Scatter(x=weeks, y=(totals[column] * 100).to_list(), name=name, mode="lines+markers")
        )
    slo.update_layout(title="SLO attainment by week (%)", yaxis_range=[0, 100])
    noisy = go.Figure(
        go.Bar(
            x=by_service["incidents"].to_list(), y=by_service["service"].to_list(), orientation="h"
        )
    )
    noisy.update_layout(title="Top noisy services", yaxis_autorange="reversed")
    load = go.Figure()
    labels = [
        f"{e} ({t})"
        for t, e in zip(oncall["team"].to_list(), oncall["engineer"].to_list(), strict=True)
    ]
    load.add_trace(go.Bar(x=labels, y=oncall["pages"].to_list(), name="pages"))
    load.add_trace(go.Bar(x=labels, y=oncall["after_hours"].to_list(), name="after hours"))
    load.update_layout(title="On-call load: pages per engineer", barmode="group")
    figures = {
        "mttr-trend": trend,
        "severity-mix": mix,
        "slo-attainment": slo,
        "noisy-services": noisy,
        "oncall-load": load,
    }
    return ["<h2>Charts</h2>"] + [figure_div(f, div_id) for div_id, f in figures.items()]


def write(report: ReliabilityReport, folder: Path, stem: str | None = None) -> list[Path]:
    """Write ``<stem>.html`` and ``<stem>.md`` into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or f"reliability-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    html_path, md_path = folder / f"{stem}.html", folder / f"{stem}.md"
    html_path.write_text(report.html, encoding="utf-8")
    md_path.write_text(report.markdown, encoding="utf-8")
    return [html_path, md_path]
