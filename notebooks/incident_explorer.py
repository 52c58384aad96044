import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _(mo):
    mo.md(
        """
        # Incident review: what happened in this incident, and what do we change?

        Find an incident (by id or title, team, service, date), then read its summary, its
        timeline (status changes, alerts, escalations, automated responses with their
        outcome, integration syncs), the generated post-mortem, similar past incidents and
        what the models predicted against what happened. Write the contributing factors
        and action items at the bottom: they are saved through the incident API.
        """
    )
    return


@app.cell
def _():
    import marimo as mo

    from models import diagnostics
    from pipelines import incident_api, notebook_queries
    from pipelines.notebook_charts import timeline_figure

    return diagnostics, incident_api, mo, notebook_queries, timeline_figure


@app.cell
def _(incident_api, notebook_queries):
    warehouse_file = notebook_queries.warehouse_path()
    # Each read opens the published snapshot and closes it: nothing is held between cells.
    with notebook_queries.reading(warehouse_file) as _duck:
        choices = notebook_queries.options(_duck)
    api = incident_api.client_from_env()
    return api, choices, warehouse_file


@app.cell
def _(choices, mo):
    import os

    # REVIEW_INCIDENT opens the notebook on one incident (a link from a page or a chat).
    search = mo.ui.text(
        value=os.environ.get("REVIEW_INCIDENT", ""),
        placeholder="id or words of the title",
        label="search",
    )
    team = mo.ui.dropdown(options=["(any)", *choices.teams], value="(any)", label="team")
    service = mo.ui.dropdown(options=["(any)", *choices.services], value="(any)", label="service")
    dates = mo.ui.date_range(
        start=choices.first_day,
        stop=choices.last_day,
        value=(choices.first_day, choices.last_day),
        label="opened between",
    )
    mo.hstack([search, team, service, dates], wrap=True)
    return dates, search, service, team


@app.cell
def _(dates, mo, notebook_queries, search, service, team, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        found = notebook_queries.search_incidents(
            _duck,
            search.value,
            notebook_queries.Filters(
                since=dates.value[0],
                until=dates.value[1],
                teams=() if team.value == "(any)" else (team.value,),
                services=() if service.value == "(any)" else (service.value,),
            ),
            limit=100,
        )
    mo.stop(found.height == 0, mo.callout(mo.md("No incident matches."), kind="warn"))
    picked = mo.ui.dropdown(
        options=found["incident_id"].to_list(),
        value=found["incident_id"][0],
        label="incident",
    )
    mo.vstack([mo.ui.table(found, selection=None, page_size=8), picked])
    return found, picked


@app.cell
def _(mo, picked, notebook_queries, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        incident = notebook_queries.incident(_duck, picked.value)

    def _hours(seconds):
        return "n/a" if seconds is None else f"{seconds / 3600:.2f} h"

    mo.md(
        f"""
        ## {incident["incident_id"]}: {incident["title"]}

        | | |
        | --- | --- |
        | severity | {incident["severity"]} |
        | status | {incident["status"]} |
        | team / service | {incident["assigned_team"]} / {incident["service"]} |
        | opened | {incident["created_at"]:%Y-%m-%d %H:%M} UTC |
        | time to acknowledge | {_hours(incident["time_to_acknowledge_s"])} |
        | time to resolve | {_hours(incident["time_to_resolve_s"])} |
        | alerts, escalations, reopens | {incident["alerts"]}, {incident["escalations"]}, {incident["reopen_count"]} |
        | automated responses (succeeded / failed) | {incident["automated_responses"]} ({incident["automated_responses_succeeded"]} / {incident["automated_responses_failed"]}) |
        | source | {incident["source_system"]} |
        """
    )
    return (incident,)


@app.cell
def _(incident, mo, notebook_queries, timeline_figure, warehouse_file):
    with notebook_queries.reading(warehouse_file) as _duck:
        events = notebook_queries.incident_events(_duck, incident["incident_id"])
    mo.vstack(
        [
            timeline_figure(events, f"Timeline of {incident['incident_id']}"),
            mo.ui.table(events, selection=None, page_size=10),
        ]
    )
    return (events,)


@app.cell
def _(api, incident, incident_api, mo):
    fetched = incident_api.fetch_postmortem(api, incident["incident_id"])
    mo.accordion(
        {
            "Post-mortem": mo.md(fetched.markdown)
            if fetched.postmortem
            else mo.callout(
                mo.md(
                    f"No post-mortem from the API ({fetched.reason}). Post-mortems exist"
                    " for the service's own resolved incidents."
                ),
                kind="info",
            )
        },
        lazy=False,
    )
    return (fetched,)


@app.cell
def _(api, incident, incident_api, mo):
    # The API's definition (the post-mortem's too): earlier incidents of the same team.
    similar = incident_api.fetch_similar(api, incident["incident_id"])
    mo.vstack(
        [
            mo.md("## Similar past incidents"),
            mo.ui.table(
                [
                    {
                        "incident": s.incident_id,
                        "title": s.title,
                        "severity": s.severity,
                        "opened": s.created_at,
                        "time to resolve (h)": s.time_to_resolve_hours,
                        "score": s.score,
                        "why": s.reason,
                    }
                    for s in similar.similar
                ],
                selection=None,
            )
            if similar.similar
            else mo.md(
                "_No earlier incident of the same team is like this one"
                + (f" ({similar.reason})" if similar.reason else "")
                + "._"
            ),
        ]
    )
    return (similar,)


@app.cell
def _(incident, mo, diagnostics):
    versions, _where = diagnostics.available_versions()
    mo.stop(
        not versions,
        mo.callout(mo.md(f"No model versions ({_where}): no predictions to show."), kind="info"),
    )
    latest = next((v for v in versions if v.status == "active"), versions[-1])
    predicted = latest.artifact.score(
        diagnostics.opened_incident(
            incident["title"] or "",
            incident["assigned_team"] or "",
            incident["affected_services"] or [],
            incident["created_at"],
        )
    )
    _actual_h = (
        f"{incident['time_to_resolve_s'] / 3600:.1f}"
        if incident["time_to_resolve_s"] is not None
        else "not resolved"
    )
    mo.md(
        f"""
        ## What {latest.label} predicted when it opened, against what happened

        | | predicted | happened |
        | --- | --- | --- |
        | severity | {predicted.suggested_severity} (P(SEV1) {predicted.severity_probabilities["SEV1_CRITICAL"]:.2f}) | {incident["severity"]} |
        | hours to resolve | {predicted.ttr_p50_hours:.1f} (p10 {predicted.ttr_p10_hours:.1f}, p90 {predicted.ttr_p90_hours:.1f}) | {_actual_h} |
        """
    )
    return latest, predicted, versions


@app.cell
def _(api, incident, incident_api, mo):
    saved_review = incident_api.fetch_review(api, incident["incident_id"])
    _factors, _actions = incident_api.review_text(saved_review)
    factors = mo.ui.text_area(
        value=_factors, label="contributing factors (one per line)", full_width=True
    )
    actions = mo.ui.text_area(
        value=_actions,
        placeholder="action | owner | due date (YYYY-MM-DD, optional)",
        label="action items (one per line: action | owner | due)",
        full_width=True,
    )
    save = mo.ui.run_button(label="Save to the post-mortem")
    _who = (
        f"Last saved by {saved_review['updated_by']} at {saved_review['updated_at']}."
        if saved_review
        else "Not reviewed yet."
    )
    mo.vstack([mo.md(f"## Review\n\n{_who}"), factors, actions, save])
    return actions, factors, save, saved_review


@app.cell
def _(actions, api, factors, incident, incident_api, mo, save):
    mo.stop(not save.value, mo.md("_Press save to store the review through the API._"))
    try:
        _saved = incident_api.save_review(
            api,
            incident["incident_id"],
            incident_api.parse_review(factors.value, actions.value),
        )
        _out = mo.callout(
            mo.md(
                f"Saved: {len(_saved['contributing_factors'])} factor(s),"
                f" {len(_saved['action_items'])} action item(s)."
            ),
            kind="success",
        )
    except incident_api.ReviewInputError as _exc:
        _out = mo.callout(mo.md(str(_exc)), kind="danger")
    _out
    return


if __name__ == "__main__":
    app.run()
