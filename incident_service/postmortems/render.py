"""A post-mortem as Markdown, and as a self-contained HTML page with plotly charts."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go

from incident_service.postmortems.html import figure_div, markdown_to_html, md_text, page
from incident_service.postmortems.schemas import Postmortem


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _hours(hours: float | None) -> str:
    return duration(None if hours is None else hours * 3600.0)


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "n/a"


def _cell(value: object) -> str:
    """User text as inert Markdown: see `html.md_text`."""
    return md_text(value)


def _section(
    heading: str, columns: tuple[str, ...] | None, rows: list[str], empty: str
) -> list[str]:
    """A section of the document: under `heading`, the `rows` (a table with `columns` as
    its header, or a list when None), or the sentence `empty` when there are none."""
    lines = ["", f"## {heading}", ""]
    if not rows:
        return [*lines, empty]
    if columns is not None:
        lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    return lines + rows


def to_markdown(pm: Postmortem) -> str:
    i = pm.impact
    lines = [
        f"# Post-mortem: {pm.incident_id}: {_cell(pm.title)}",
        "",
        f"Generated {_at(pm.generated_at)} by {_cell(pm.generated_by)} from the incident record.",
        "",
        "## Summary",
        "",
        _cell(pm.summary),
        "",
        "## Impact",
        "",
        "| | |",
        "| --- | --- |",
        f"| severity | {_cell(i.severity)} |",
        f"| services | {_cell(', '.join(i.services))} |",
        f"| team | {_cell(i.team)} |",
        f"| started | {_at(i.started_at)} |",
        f"| duration | {duration(i.duration_s)} |",
        f"| time to detect | {duration(i.time_to_detect_s)} |",
        f"| time to acknowledge | {duration(i.time_to_acknowledge_s)} |",
        f"| time to mitigate | {duration(i.time_to_mitigate_s)} |",
        f"| time to resolve | {duration(i.time_to_resolve_s)} |",
        f"| alerts | {i.alerts} |",
        f"| escalations | {i.escalations} |",
        f"| reopened | {i.reopen_count} times |",
        "",
        "## Timeline",
        "",
        "| # | time | kind | actor | what happened |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {e.event_id} | {_at(e.occurred_at)} | {_cell(e.kind)} | {_cell(e.actor)} |"
        f" {_cell(e.summary)} |"
        for e in pm.timeline
    ]
    lines += _section(
        "Roles",
        ("role", "who", "from", "to"),
        [
            f"| {_cell(r.role)} | {_cell(r.name)} | {_at(r.assumed_at)} |"
            f" {_at(r.relieved_at) if r.relieved_at else 'the end'} |"
            for r in pm.roles
        ],
        "Nobody held an incident role.",
    )
    lines += _section(
        "Stakeholder updates",
        ("time", "status", "by", "message"),
        [
            f"| {_at(u.posted_at)} | {_cell(u.status)} | {_cell(u.posted_by)} |"
            f" {_cell(u.message)} |"
            for u in pm.stakeholder_updates
        ],
        "No stakeholder update was posted.",
    )
    lines += _section(
        "Automated responses",
        ("response", "action", "result", "finished", "error"),
        [
            f"| {_cell(r.response_id)} | {_cell(r.action_type)} | {_cell(r.execution_status)} |"
            f" {_at(r.executed_at)} | {_cell(r.last_error)} |"
            for r in pm.automated_responses
        ],
        "None ran.",
    )
    lines += _section(
        "Integrations",
        None,
        [
            f"- {_cell(link.get('system'))}"
            f" {_cell(link.get('remote_key') or link.get('remote_id'))}"
            f" ({_cell(link.get('remote_status'))}) {_cell(link.get('remote_url'))}"
            for link in pm.integration_links
        ],
        "Not linked to any external system.",
    )
    lines += _section(
        "What the models predicted, against what happened",
        ("model", "target", "predicted at open", "what happened"),
        [
            f"| {_cell(p.model)} | {_cell(p.target)} | {_cell(p.predicted)} | {_cell(p.actual)} |"
            for p in pm.predictions or []
        ],
        "No model was active when this incident opened.",
    )
    lines += _section(
        "Similar past incidents",
        ("incident", "title", "severity", "opened", "time to resolve", "score", "why"),
        [
            f"| {_cell(s.incident_id)} | {_cell(s.title)} | {_cell(s.severity)} |"
            f" {_at(s.created_at)} | {_hours(s.time_to_resolve_hours)} | {s.score:.2f} |"
            f" {_cell(s.reason)} |"
            for s in pm.similar_incidents
        ],
        "None found.",
    )
    # What people wrote is text: a line of theirs never becomes a heading, link or tag.
    lines += ["", "## Contributing factors", ""] + [
        f"- {_cell(f)}" for f in pm.contributing_factors
    ]
    lines += ["", "## Action items", ""] + [f"- {_cell(a)}" for a in pm.action_items]
    lines += ["", "## Definitions", ""] + [
        f"- **{_cell(k)}**: {_cell(v)}" for k, v in pm.definitions.items()
    ]
    return "\n".join(lines) + "\n"


def _charts(pm: Postmortem) -> list[str]:
    i = pm.impact
    phases = go.Figure(
        go.Bar(
            x=["detect", "acknowledge", "mitigate", "resolve"],
            y=[
                (v or 0.0) / 60
                for v in (
                    i.time_to_detect_s,
                    i.time_to_acknowledge_s,
                    i.time_to_mitigate_s,
                    i.time_to_resolve_s,
                )
            ],
            marker_color=["#8c9cb8", "#4f7cc3", "#e0a03a", "#3a9e6b"],
        )
    )
    phases.update_layout(title="Time to detect, acknowledge, mitigate and resolve (minutes)")
    kinds = sorted({e.kind for e in pm.timeline})
    timeline = go.Figure()
    for kind in kinds:
        events = [e for e in pm.timeline if e.kind == kind]
        timeline.add_trace(
            go.Scatter(
                x=[e.occurred_at.isoformat() for e in events],
                y=[kind] * len(events),
                mode="markers",
                name=kind,
                text=[e.summary for e in events],
                hovertemplate="%{x}<br>%{text}<extra></extra>",
                marker={"size": 11},
            )
        )
    timeline.update_layout(title="Timeline", showlegend=False)
    return [figure_div(phases, "phases"), figure_div(timeline, "timeline")]


def to_html(pm: Postmortem) -> str:
    """The whole post-mortem as one page: charts after the impact table."""
    md = to_markdown(pm)
    head, _, rest = md.partition("\n## Timeline")
    body = markdown_to_html(head) + "<h2>Charts</h2>" + "".join(_charts(pm))
    body += markdown_to_html("## Timeline" + rest)
    return page(f"Post-mortem {pm.incident_id}: {pm.title}", body)
