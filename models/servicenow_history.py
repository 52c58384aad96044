"""Reads a ServiceNow incident audit-log export (the zip as exported) into an `IncidentHistory`.

The export has one row per update of an incident. What an incident looked like when it was
opened is its first row (sys_mod_count 0); its final priority and resolution come from its
last row. Impact, urgency and priority are never features (priority is a function of the
other two), and neither is anything only known later: state, reassignment, reopen and
modification counts, SLA, close code, resolver, resolution and close times
(see ../shared/data/README.md).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from models.records import IncidentHistory, OpenedIncident, Outcomes

TIME_FORMAT = "%d/%m/%Y %H:%M"
TIME_COLUMNS = ("opened_at", "sys_created_at", "sys_updated_at", "resolved_at", "closed_at")
# Blanked on incidents still open at the export's moment, as ServiceNow itself shows them.
RESOLUTION_COLUMNS = ("resolved_at", "resolved_by", "closed_code", "closed_at")

# Categorical facts known at open: the column, and the name the features know it by.
OPEN_FIELDS: dict[str, str] = {
    "caller_id": "caller",
    "opened_by": "opened_by",
    "sys_created_by": "created_by",
    "contact_type": "contact_type",
    "location": "location",
    "category": "category",
    "subcategory": "subcategory",
    "u_symptom": "symptom",
    "assignment_group": "team",
    "assigned_to": "assignee",
    "knowledge": "knowledge",
    "u_priority_confirmation": "priority_confirmation",
    "notify": "notify",
    "vendor": "vendor",
    "caused_by": "caused_by",
}
PRESENCE_FIELDS: dict[str, str] = {"problem_id": "has_problem", "rfc": "has_rfc"}

# Recent-load windows: name -> (grouping field or None for all incidents, hours, which
# earlier incidents count: "any", or only those opened at priority 1-2 ("high") or 4 ("low");
# an earlier incident's priority at its own opening was known before this one opened).
RECENT_WINDOWS: dict[str, tuple[str | None, float, str]] = {
    "all_24h": (None, 24.0, "any"),
    "category_24h": ("category", 24.0, "any"),
    "symptom_24h": ("symptom", 24.0, "any"),
    "team_24h": ("team", 24.0, "any"),
    "service_24h": ("service", 24.0, "any"),
    "location_24h": ("location", 24.0, "any"),
    "caller_7d": ("caller", 24.0 * 7, "any"),
    "caller_30d": ("caller", 24.0 * 30, "any"),
    "high_all_24h": (None, 24.0, "high"),
    "high_category_24h": ("category", 24.0, "high"),
    "high_location_24h": ("location", 24.0, "high"),
    "high_caller_30d": ("caller", 24.0 * 30, "high"),
    "high_symptom_7d": ("symptom", 24.0 * 7, "high"),
    "low_category_7d": ("category", 24.0 * 7, "low"),
    "low_caller_30d": ("caller", 24.0 * 30, "low"),
    "low_symptom_7d": ("symptom", 24.0 * 7, "low"),
}

_PRIORITY_TO_CLASS = {"1 - Critical": 0, "2 - High": 1, "3 - Moderate": 2, "4 - Low": 3}


def read_events(path: Path | str) -> pl.DataFrame:
    """Every event row of the export, all columns as text except parsed timestamps."""
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
        if len(members) != 1:
            msg = f"{path}: expected exactly one .csv in the zip, found {members}"
            raise ValueError(msg)
        raw = archive.read(members[0])
    frame = pl.read_csv(raw, null_values="?", infer_schema_length=0)
    return frame.with_columns(
        [pl.col(c).str.strptime(pl.Datetime("us"), TIME_FORMAT, strict=False) for c in TIME_COLUMNS]
    ).with_columns(pl.col("sys_mod_count").cast(pl.Int64, strict=False))


def as_of(events: pl.DataFrame, moment: datetime) -> pl.DataFrame:
    """The instance as it stood at `moment`: later rows dropped, later resolutions blanked."""
    kept = events.filter(pl.col("sys_updated_at") < moment)
    later = pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= moment)
    return kept.with_columns(
        [
            pl.when(later).then(None).otherwise(pl.col(c)).alias(c)
            for c in RESOLUTION_COLUMNS
            if c in kept.columns
        ]
    )


def write_export(events: pl.DataFrame, path: Path | str) -> None:
    """Write events back in the export's own format (d/m/YYYY HH:MM, `?` for missing)."""

    def _fmt(c: str) -> pl.Expr:
        e = pl.col(c)
        return pl.concat_str(
            [
                e.dt.day().cast(pl.Utf8),
                pl.lit("/"),
                e.dt.month().cast(pl.Utf8),
                pl.lit("/"),
                e.dt.year().cast(pl.Utf8),
                pl.lit(" "),
                e.dt.strftime("%H:%M"),
            ]
        ).alias(c)

    out = events.with_columns([_fmt(c) for c in TIME_COLUMNS]).with_columns(
        pl.col("sys_mod_count").cast(pl.Utf8)
    )
    buffer = io.BytesIO()
    out.write_csv(buffer, null_value="?")
    name = Path(path).name.removesuffix(".zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name if name.endswith(".csv") else name + ".csv", buffer.getvalue())


def export_moment(events: pl.DataFrame) -> datetime:
    """When the export was taken: just after its last recorded update."""
    last = events["sys_updated_at"].max()
    if not isinstance(last, datetime):
        msg = "the export has no event rows with a valid sys_updated_at"
        raise ValueError(msg)
    return last


def recent_counts(
    times: NDArray[np.float64],
    keys: Sequence[str | None],
    hours: float,
    counted: NDArray[np.bool_] | None = None,
) -> NDArray[np.int64]:
    """For each incident, how many `counted` incidents with its key opened in the prior `hours`.

    Args:
        times: (n,) opening times in hours, any order.
        keys: n grouping keys (None: no key, count 0).
        counted: (n,) which incidents count (default all).
    """
    out = np.zeros(len(times), dtype=np.int64)
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k is not None:
            groups.setdefault(k, []).append(i)
    for members in groups.values():
        idx = np.asarray(members)
        pool = np.sort(times[idx] if counted is None else times[idx[counted[idx]]])
        # Strictly earlier openings only: an incident does not count itself.
        lo = np.searchsorted(pool, times[idx] - hours, side="left")
        hi = np.searchsorted(pool, times[idx], side="left")
        out[idx] = hi - lo
    return out


def to_history(events: pl.DataFrame, moment: datetime | None = None) -> IncidentHistory:
    """One `OpenedIncident` per incident (ordered by opening), with outcomes as of `moment`.

    `moment` defaults to the export's own moment. Incidents without a resolution by then
    are right-censored at it.
    """
    # At the export's own moment every resolution it shows has happened.
    trust_all = moment is None
    moment = moment or export_moment(events)
    ordered = events.sort(["number", "sys_updated_at", "sys_mod_count"], nulls_last=True)
    first = ordered.group_by("number", maintain_order=True).first()
    last = ordered.group_by("number", maintain_order=True).last()
    table = (
        first.join(
            last.select(
                "number",
                pl.col("priority").alias("final_priority"),
                pl.col("resolved_at").alias("final_resolved_at"),
            ),
            on="number",
        )
        .filter(
            pl.col("opened_at").is_not_null()
            & pl.col("final_priority").is_in(list(_PRIORITY_TO_CLASS))
        )
        .sort(["opened_at", "number"])
    )
    opened: list[datetime] = table["opened_at"].to_list()
    created: list[datetime | None] = table["sys_created_at"].to_list()
    columns = {c: table[c].to_list() for c in [*OPEN_FIELDS, *PRESENCE_FIELDS, "cmdb_ci"]}
    n = table.height
    rows: list[dict[str, str]] = []
    for i in range(n):
        fields = {
            name: str(columns[c][i]) for c, name in OPEN_FIELDS.items() if columns[c][i] is not None
        }
        for c, name in PRESENCE_FIELDS.items():
            fields[name] = "yes" if columns[c][i] is not None else "no"
        rows.append(fields)
    services = [(str(ci),) if ci is not None else () for ci in columns["cmdb_ci"]]
    hours = np.array([o.timestamp() for o in opened], dtype=np.float64) / 3600.0
    recent: dict[str, NDArray[np.int64]] = {}
    opening_priority = np.array(
        [_PRIORITY_TO_CLASS.get(p, 2) for p in table["priority"].to_list()], dtype=np.int64
    )
    subsets = {"any": None, "high": opening_priority <= 1, "low": opening_priority == 3}
    for name, (key, window, subset) in RECENT_WINDOWS.items():
        if key is None:
            keys: list[str | None] = ["*"] * n
        elif key == "service":
            keys = [s[0] if s else None for s in services]
        else:
            keys = [r.get(key) for r in rows]
        recent[name] = recent_counts(hours, keys, window, subsets[subset])
    incidents = []
    for i in range(n):
        numeric: dict[str, float] = {}
        if created[i] is not None:
            # Records typed in after the fact: how late the record was created is known then.
            lag = (created[i] - opened[i]).total_seconds() / 3600.0  # type: ignore[operator]
            numeric["created_lag_hours"] = max(lag, 0.0)
        incidents.append(
            OpenedIncident(
                opened_at=opened[i],
                fields=rows[i],
                services=services[i],
                numeric=numeric,
                recent={k: int(v[i]) for k, v in recent.items()},
            )
        )
    severity = np.array([_PRIORITY_TO_CLASS[p] for p in table["final_priority"]], dtype=np.int64)
    resolved: list[datetime | None] = table["final_resolved_at"].to_list()
    durations = np.empty(n, dtype=np.float64)
    observed = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        end = resolved[i]
        if end is not None and (trust_all or end < moment):
            observed[i] = True
        else:
            end = moment
        durations[i] = max((max(end, opened[i]) - opened[i]).total_seconds() / 3600.0, 0.0)
    return IncidentHistory(incidents, Outcomes(severity, durations, observed), moment)


def load_history(path: Path | str) -> IncidentHistory:
    """Read an export zip and build its history, as of the export's own moment."""
    return to_history(read_events(path))
