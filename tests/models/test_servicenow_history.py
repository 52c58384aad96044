from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from models import servicenow_history

# The export's 36 columns, in its order.
COLUMNS = [
    *("number", "incident_state", "active", "reassignment_count", "reopen_count"),
    *("sys_mod_count", "made_sla", "caller_id", "opened_by", "opened_at", "sys_created_by"),
    *("sys_created_at", "sys_updated_by", "sys_updated_at", "contact_type", "location"),
    *("category", "subcategory", "u_symptom", "cmdb_ci", "impact", "urgency", "priority"),
    *("assignment_group", "assigned_to", "knowledge", "u_priority_confirmation", "notify"),
    *("problem_id", "rfc", "vendor", "caused_by", "closed_code", "resolved_by"),
    *("resolved_at", "closed_at"),
]


def _row(number, state, mod, opened, updated, category, priority, resolved="?", **extra):
    values = dict.fromkeys(COLUMNS, "?")
    values |= {
        "number": number,
        "incident_state": state,
        "active": "true",
        "sys_mod_count": str(mod),
        "caller_id": "Caller 1",
        "opened_by": "Opened by 2",
        "opened_at": opened,
        "sys_created_at": opened,
        "sys_updated_at": updated,
        "contact_type": "Phone",
        "location": "Location 3",
        "category": category,
        "u_symptom": "Symptom 4",
        "impact": "2 - Medium",
        "urgency": "2 - Medium",
        "priority": priority,
        "assignment_group": "Group 5",
        "resolved_at": resolved,
        "closed_at": resolved,
    }
    return values | extra


def _export(tmp_path, rows, name="export.csv.zip"):
    path = tmp_path / name
    csv = ",".join(COLUMNS) + "\n" + "\n".join(",".join(r[c] for c in COLUMNS) for r in rows)
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name.removesuffix(".zip"), csv)
    return path


ROWS = [
    # INC1: opened at priority 3 in Category 1, recategorised and raised to 1 later.
    _row(
        "INC1",
        "New",
        0,
        "1/3/2016 10:00",
        "1/3/2016 10:05",
        "Category 1",
        "3 - Moderate",
        "1/3/2016 14:00",
    ),
    _row(
        "INC1",
        "Active",
        1,
        "1/3/2016 10:00",
        "1/3/2016 12:00",
        "Category 9",
        "1 - Critical",
        "1/3/2016 14:00",
    ),
    _row(
        "INC1",
        "Resolved",
        2,
        "1/3/2016 10:00",
        "1/3/2016 14:00",
        "Category 9",
        "1 - Critical",
        "1/3/2016 14:00",
    ),
    # INC2: opened an hour later, same category; resolved after the cut-off used below.
    _row(
        "INC2",
        "New",
        0,
        "1/3/2016 11:00",
        "1/3/2016 11:01",
        "Category 1",
        "4 - Low",
        "5/3/2016 11:00",
    ),
    _row(
        "INC2",
        "Resolved",
        1,
        "1/3/2016 11:00",
        "5/3/2016 11:00",
        "Category 1",
        "4 - Low",
        "5/3/2016 11:00",
    ),
]


def test_features_are_what_was_known_at_open(tmp_path):
    history = servicenow_history.load_history(_export(tmp_path, ROWS))
    first, second = history.incidents
    assert first.fields["category"] == "Category 1"  # not the later Category 9
    assert not {"priority", "impact", "urgency"} & set(first.fields)
    assert history.outcomes.severity.tolist() == [0, 3]  # final priorities 1 and 4
    assert np.allclose(history.outcomes.duration_hours, [4.0, 96.0])
    assert history.outcomes.observed.tolist() == [True, True]
    # INC1 opened an hour before INC2 in the same category, at priority 3 (not high).
    assert second.recent["category_24h"] == 1 and first.recent["category_24h"] == 0
    assert second.recent["high_category_24h"] == 0


def test_as_of_drops_later_rows_and_censors(tmp_path):
    events = servicenow_history.read_events(_export(tmp_path, ROWS))
    cut = datetime(2016, 3, 2)
    then = servicenow_history.to_history(servicenow_history.as_of(events, cut), cut)
    assert then.outcomes.observed.tolist() == [True, False]
    assert np.isclose(then.outcomes.duration_hours[1], 13.0)  # open 11:00 -> cut-off
    assert then.as_of == cut


def test_write_export_round_trips(tmp_path):
    events = servicenow_history.read_events(_export(tmp_path, ROWS))
    out = tmp_path / "again.csv.zip"
    servicenow_history.write_export(events, out)
    again = servicenow_history.read_events(out)
    assert again.shape == events.shape
    assert again.select(servicenow_history.TIME_COLUMNS).equals(
        events.select(servicenow_history.TIME_COLUMNS)
    )
    assert again["priority"].to_list() == events["priority"].to_list()
    assert again.filter(pl.col("resolved_at").is_null()).height == 0
