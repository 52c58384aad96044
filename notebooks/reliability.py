import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _(mo):
    mo.md(
        """
        # Reliability: how fast do we acknowledge and resolve, and where does it hurt?

        MTTA/MTTR medians and SLO attainment week by week, by team, service or severity;
        the noisiest services; who carries the on-call load; and whether the automated
        responses help. Metrics are the weekly reliability report's own definitions
        (`dbt_like_sql/marts/rpt_reliability_weekly.sql`), read from the warehouse.
        """
    )
    return


@app.cell
def _():
    import marimo as mo

    from pipelines import notebook_queries
    from pipelines.notebook_charts import trend_figure

    return mo, notebook_queries, trend_figure


@app.cell
def _(notebook_queries):
    warehouse_file = notebook_queries.warehouse_path()
    # Each read opens the published snapshot and closes it: nothing is held between cells.
    with notebook_queries.reading(warehouse_file) as _duck:
        choices = notebook_queries.options(_duck)
    return choices, warehouse_file


@app.cell
def _(choices, mo):
    dates = mo.ui.date_range(
        start=choices.first_day,
        stop=choices.last_day,
        value=(choices.first_day, choices.last_day),
        label="opened between",
    )
    teams = mo.ui.multiselect(options=choices.teams, label="teams (all when empty)")
    services = mo.ui.multiselect(options=choices.services, label="services")
    severities = mo.ui.multiselect(options=choices.severities, label="severities")
    group_by = mo.ui.dropdown(
        options=["team", "service", "severity"], value="team", label="lines by"
    )
    mo.hstack([dates, teams, services, severities, group_by], wrap=True)
    return dates, group_by, services, severities, teams


@app.cell
def _(dates, notebook_queries, services, severities, teams):
    filters = notebook_queries.Filters(
        since=dates.value[0],
        until=dates.value[1],
        teams=tuple(teams.value),
        services=tuple(services.value),
        severities=tuple(severities.value),
    )
    return (filters,)


@app.cell
def _(filters, group_by, mo, notebook_queries, trend_figure, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        weekly = notebook_queries.trend(_duck, filters, by=group_by.value)
    _by = group_by.value
    mo.vstack(
        [
            mo.md(f"{weekly['incidents'].sum()} incidents in `{warehouse_file}`"),
            mo.ui.tabs(
                {
                    "MTTA": trend_figure(weekly, "mtta_p50_h", _by, f"MTTA p50 (hours) by {_by}"),
                    "MTTR": trend_figure(weekly, "mttr_p50_h", _by, f"MTTR p50 (hours) by {_by}"),
                    "ack SLO": trend_figure(
                        weekly, "ack_slo_attainment", _by, f"acknowledge SLO attainment by {_by}"
                    ),
                    "resolve SLO": trend_figure(
                        weekly, "resolve_slo_attainment", _by, f"resolve SLO attainment by {_by}"
                    ),
                    "incidents": trend_figure(weekly, "incidents", _by, f"incidents by {_by}"),
                }
            ),
        ]
    )
    return (weekly,)


@app.cell
def _(filters, mo, notebook_queries, warehouse_file):
    import plotly.express as px

    with notebook_queries.reading(warehouse_file) as _duck:
        noisy = notebook_queries.noisiest_services(_duck, filters)
        load = notebook_queries.oncall_load(_duck, filters)
    mo.hstack(
        [
            px.bar(
                noisy.to_pandas(),
                x="incidents",
                y="service",
                color="team",
                orientation="h",
                title="Noisiest services",
            ).update_layout(yaxis={"autorange": "reversed"}),
            px.bar(
                load.to_pandas(),
                x="engineer",
                y=["pages", "after_hours_pages"],
                barmode="group",
                title="On-call load: pages and after-hours pages",
            ),
        ],
        widths="equal",
    )
    return load, noisy, px


@app.cell
def _(filters, mo, px, notebook_queries, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        effect = notebook_queries.response_effectiveness(_duck, filters.services)
    _chart = (
        px.bar(
            effect.to_pandas(),
            x="action_type",
            y=["mttr_with_h", "mttr_without_h"],
            barmode="group",
            hover_data=["service", "runs", "success_rate"],
            title="Automated responses: MTTR (hours) with and without the action",
        )
        if effect.height
        else mo.callout(mo.md("No automated responses recorded in the warehouse yet."), kind="info")
    )
    mo.vstack([mo.md("## Automated response effectiveness"), _chart, mo.ui.table(effect)])
    return (effect,)


if __name__ == "__main__":
    app.run()
