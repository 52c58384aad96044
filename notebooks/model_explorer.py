import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _(mo):
    mo.md(
        """
        # Models: are the predictions right, are they getting worse, and what would they do?

        Every model version side by side on a window later than its training data:
        severity macro-F1, per-class recall and AUC, time-to-resolve errors and interval
        coverage; then, for one version, calibration, quantile coverage, the confusion
        matrix and drift week by week. At the bottom, a what-if: edit an incident and
        watch the predictions, and the automated responses the policies choose, change.
        """
    )
    return


@app.cell
def _():
    import marimo as mo
    import plotly.express as px
    import plotly.graph_objects as go

    from models import diagnostics
    from models.records import SEVERITIES
    from pipelines import notebook_queries, what_if

    return SEVERITIES, diagnostics, go, mo, notebook_queries, px, what_if


@app.cell
def _(notebook_queries):
    warehouse_file = notebook_queries.warehouse_path()
    # Each read opens the published snapshot and closes it: nothing is held between cells.
    with notebook_queries.reading(warehouse_file) as _duck:
        choices = notebook_queries.options(_duck)
    return choices, warehouse_file


@app.cell
def _(mo, notebook_queries, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        _sources = notebook_queries.sources(_duck)
    source = mo.ui.dropdown(options=_sources, value=_sources[0], label="incidents from")
    source
    return (source,)


@app.cell
def _(diagnostics, notebook_queries, source, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        incidents = notebook_queries.incidents_for_models(_duck, source.value)
    history = diagnostics.history_from_incidents(incidents, diagnostics.window_end(incidents))
    return history, incidents


@app.cell
def _(mo, diagnostics):
    versions, where = diagnostics.available_versions()
    mo.stop(
        not versions,
        mo.callout(
            mo.md(f"No model versions ({where}). `make notebooks` trains demo versions."),
            kind="warn",
        ),
    )
    mo.md(f"{len(versions)} version(s): {where}.")
    return versions, where


@app.cell
def _(history, mo, diagnostics):
    _first, _last = history.incidents[0].opened_at, history.incidents[-1].opened_at
    cutoff = mo.ui.date(
        start=_first.date(),
        stop=_last.date(),
        value=diagnostics.default_cutoff(history).date(),
        label="test window starts (incidents opened from this day on are the test set)",
    )
    cutoff
    return (cutoff,)


@app.cell
def _(cutoff, history, mo, diagnostics):
    import datetime as _dt

    split = diagnostics.time_split(history, _dt.datetime.combine(cutoff.value, _dt.time()))
    test = split.test
    mo.stop(len(test) == 0, mo.callout(mo.md("No incident after the cutoff."), kind="warn"))
    mo.md(f"Test window: {len(test)} incidents, {int(test.outcomes.observed.sum())} resolved.")
    return split, test


@app.cell
def _(mo, diagnostics, px, test, versions):
    side = diagnostics.metrics_side_by_side(versions, test)
    mo.vstack(
        [
            mo.md("## Versions side by side"),
            mo.ui.table(side, selection=None),
            mo.hstack(
                [
                    px.bar(
                        side.to_pandas(),
                        x="version",
                        y=["macro_f1", "auc_high"],
                        barmode="group",
                        title="Severity: macro-F1 and AUC (higher is better)",
                    ),
                    px.bar(
                        side.to_pandas(),
                        x="version",
                        y=["mae_hours", "median_ae_hours"],
                        barmode="group",
                        title="Time to resolve: errors in hours (lower is better)",
                    ),
                ],
                widths="equal",
            ),
        ]
    )
    return (side,)


@app.cell
def _(mo, versions):
    chosen = mo.ui.dropdown(
        options={v.label: i for i, v in enumerate(versions)},
        value=versions[-1].label,
        label="version",
    )
    chosen
    return (chosen,)


@app.cell
def _(chosen, diagnostics, test, versions):
    version = versions[chosen.value]
    scored = diagnostics.score_window(version.artifact, test)
    return scored, version


@app.cell
def _(go, mo, diagnostics, scored, test, version):
    _cal = diagnostics.calibration(scored, test)
    _cov = diagnostics.interval_coverage(scored, test)
    _calibration = go.Figure(
        [
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="ideal", line={"dash": "dot"}),
            go.Scatter(
                x=_cal["mean_predicted"].to_list(),
                y=_cal["observed_share"].to_list(),
                mode="lines+markers",
                name=version.label,
                text=[f"{n} incidents" for n in _cal["incidents"].to_list()],
            ),
        ]
    ).update_layout(
        title="Calibration: P(SEV1 or SEV2) against the observed share",
        xaxis_title="mean predicted",
        yaxis_title="observed share",
    )
    _coverage = go.Figure(
        [
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="ideal", line={"dash": "dot"}),
            go.Scatter(
                x=_cov["nominal"].to_list(),
                y=_cov["observed"].to_list(),
                mode="lines+markers",
                name=version.label,
            ),
        ]
    ).update_layout(
        title="Time-to-resolve quantiles: share resolved by the predicted q-quantile",
        xaxis_title="nominal q",
        yaxis_title="observed share",
    )
    mo.hstack([_calibration, _coverage], widths="equal")
    return


@app.cell
def _(mo, diagnostics, test, version):
    # The model card: quality gate, per-class recall, calibration and the forward folds the
    # version recorded (a file version is evaluated on this test window instead).
    card_text = diagnostics.model_card(version, test)
    mo.accordion({f"Model card: {version.label}": mo.md(card_text)})
    return (card_text,)


@app.cell
def _(SEVERITIES, mo, diagnostics, px, scored, test):
    _matrix = diagnostics.confusion(scored, test)
    _drift = diagnostics.drift_by_week(scored, test)
    mo.vstack(
        [
            px.imshow(
                _matrix,
                x=list(SEVERITIES),
                y=list(SEVERITIES),
                text_auto=True,
                labels={"x": "suggested", "y": "final severity", "color": "incidents"},
                title="Confusion matrix of the suggested severity",
            ),
            px.line(
                _drift.to_pandas(),
                x="week",
                y=["predicted_high_share", "observed_high_share", "macro_f1", "coverage_p10_p90"],
                markers=True,
                title="Drift week by week: severity",
            ),
            px.line(
                _drift.to_pandas(),
                x="week",
                y=["predicted_p50_hours", "observed_median_hours", "mae_hours"],
                markers=True,
                title="Drift week by week: time to resolve (hours)",
            ),
        ]
    )
    return


@app.cell
def _(SEVERITIES, choices, mo):
    title = mo.ui.text(value="Checkout Service High Latency", label="title", full_width=True)
    severity = mo.ui.dropdown(options=list(SEVERITIES), value="SEV3_MEDIUM", label="severity")
    team = mo.ui.dropdown(options=choices.teams, value=choices.teams[0], label="team")
    service = mo.ui.dropdown(options=choices.services, value=choices.services[0], label="service")
    hour = mo.ui.slider(0, 23, value=14, label="opened at hour (UTC)")
    mo.vstack([mo.md("## What if"), title, mo.hstack([severity, team, service, hour], wrap=True)])
    return hour, service, severity, team, title


@app.cell
def _(SEVERITIES, choices, hour, mo, px, service, severity, team, title, version, what_if):
    import datetime as _dt

    from incident_service.config import get_settings

    _opened = _dt.datetime.combine(choices.last_day, _dt.time(hour.value))
    outcome = what_if.what_if(
        version.artifact,
        title=title.value,
        severity=severity.value,
        team=team.value,
        services=[service.value],
        opened_at=_opened,
        policy_file=get_settings().response_policies_path,
    )
    _p = outcome.prediction
    mo.hstack(
        [
            px.bar(
                x=list(SEVERITIES),
                y=[_p.severity_probabilities[s] for s in SEVERITIES],
                labels={"x": "severity", "y": "probability"},
                title=f"{version.label}: suggests {_p.suggested_severity}",
            ),
            mo.vstack(
                [
                    mo.md(
                        f"Time to resolve: p50 **{_p.ttr_p50_hours:.1f} h** (p10"
                        f" {_p.ttr_p10_hours:.1f}, p90 {_p.ttr_p90_hours:.1f});"
                        f" P(SEV1) {_p.severity_probabilities['SEV1_CRITICAL']:.2f}."
                    ),
                    mo.md("**Automated responses the policies choose**"),
                    mo.ui.table(outcome.actions, selection=None)
                    if outcome.actions
                    else mo.md("_none_"),
                    mo.md("**Why**"),
                    mo.ui.table(
                        [
                            {"policy": m["policy"], "why": "; ".join(m["why"])}
                            for m in outcome.matched
                        ],
                        selection=None,
                    )
                    if outcome.matched
                    else mo.md("_no policy matched_"),
                ]
            ),
        ],
        widths="equal",
    )
    return (outcome,)


if __name__ == "__main__":
    app.run()
