"""Plotly figures the notebooks share (the incident timeline, trend lines)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

LANES = ("status", "alerts", "escalation", "automated responses", "integration syncs", "notes")


def timeline_figure(events: pl.DataFrame, title: str) -> go.Figure:
    """One marker per event, a lane per kind of event, the label on hover."""
    figure = go.Figure()
    for lane in LANES:
        rows = events.filter(pl.col("lane") == lane)
        if rows.height == 0:
            continue
        figure.add_trace(
            go.Scatter(
                x=rows["at"].to_list(),
                y=[lane] * rows.height,
                mode="markers+text",
                name=lane,
                text=rows["outcome"].to_list(),
                textposition="top center",
                hovertext=rows["label"].to_list(),
                hoverinfo="text+x",
                marker={"size": 12},
            )
        )
    figure.update_layout(
        title=title,
        height=320,
        margin={"l": 140, "r": 20, "t": 50, "b": 40},
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(LANES))},
        showlegend=False,
    )
    return figure


def trend_figure(frame: pl.DataFrame, metric: str, by: str, title: str) -> go.Figure:
    """`metric` week by week, one line per `by` group."""
    figure = go.Figure()
    for (group,), rows in frame.sort("week").group_by([by], maintain_order=True):
        figure.add_trace(
            go.Scatter(
                x=rows["week"].to_list(),
                y=rows[metric].to_list(),
                mode="lines+markers",
                name=str(group),
            )
        )
    figure.update_layout(title=title, height=360, margin={"t": 50, "b": 40})
    return figure
