"""The service's incidents in the warehouse as an `IncidentHistory` for the served model.

Each incident is mapped with `models.service_records.opened_from_service`, the function the
API scores with, so training and serving see the same inputs. Target: the final severity
(the incident's severity now) and the time to resolve, right-censored for incidents still
open at `as_of`. Incidents opened after `as_of` are left out, and resolutions after it are
treated as not yet happened, so a run as of a past moment rebuilds what was known then.

Sources: ``raw.incidents`` (the service's own, ingested) and, when present,
``synthetic.incidents`` (the generated demo history, which has its own clock: its open
incidents are censored at its latest recorded moment, not at `as_of`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np

from models.evaluate import EvalData
from models.records import SEVERITIES, IncidentHistory, OpenedIncident, Outcomes
from models.service_records import opened_from_service
from models.train import censor_at

# What the mapping and the targets read; a column a source lacks is taken as null.
COLUMNS = (
    "incident_id",
    "title",
    "description",
    "severity",
    "status",
    "affected_services",
    "assigned_team",
    "created_by",
    "labels",
    "created_at",
    "resolved_at",
    "closed_at",
)
SOURCES = ("raw.incidents", "synthetic.incidents")
_DONE = ("RESOLVED", "CLOSED")


@dataclass(frozen=True)
class ServiceHistory:
    """The mapped history and, per incident, its source table, team and services."""

    history: IncidentHistory
    source: list[str]
    teams: list[str]
    services: list[tuple[str, ...]]


def read_rows(
    duck: duckdb.DuckDBPyConnection, as_of: datetime, limit: int = 50_000
) -> dict[str, list[dict[str, Any]]]:
    """Of each source that exists, the latest `limit` incidents opened by `as_of`, with
    `COLUMNS` (absent ones null). The bound keeps a run's memory and time in hand; training
    weights recent weeks most anyway (`recency_half_life_days`)."""
    found: dict[str, set[str]] = {}
    for schema, table, column in duck.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
    ).fetchall():
        found.setdefault(f"{schema}.{table}", set()).add(str(column))
    rows: dict[str, list[dict[str, Any]]] = {}
    for source in SOURCES:
        have = found.get(source)
        if not have:
            continue
        select = ", ".join(f'"{c}"' if c in have else f'null as "{c}"' for c in COLUMNS)
        cursor = duck.execute(
            f"select {select} from {source} where created_at <= ?"
            " order by created_at desc, incident_id desc limit ?",
            [_utc(as_of), limit],
        )
        rows[source] = [dict(zip(COLUMNS, r, strict=True)) for r in cursor.fetchall()]
    return rows


def _json(value: object) -> object:
    # raw.* holds jsonb as its text form; synthetic.* holds real lists.
    return json.loads(value) if isinstance(value, str) else value


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _end(row: Mapping[str, Any]) -> datetime | None:
    """When it was resolved: resolved_at, or closed_at for one closed without it."""
    if row["status"] not in _DONE:
        return None  # reopened or never resolved: still running
    end = row["resolved_at"] or row["closed_at"]
    return _utc(end) if end is not None else None


def _source_clock(rows: Sequence[Mapping[str, Any]]) -> datetime | None:
    """The latest moment a source recorded (its own 'now')."""
    stamps = [_utc(r[c]) for r in rows for c in ("created_at", "resolved_at", "closed_at") if r[c]]
    return max(stamps) if stamps else None


def build_history(
    rows: Mapping[str, Sequence[Mapping[str, Any]]], as_of: datetime, limit: int | None = None
) -> ServiceHistory:
    """Every incident of every source opened by `as_of` (the latest `limit` of them), in
    opening order."""
    as_of = _utc(as_of)
    items: list[tuple[datetime, str, OpenedIncident, int, float, bool, str, tuple[str, ...]]] = []
    for source, source_rows in rows.items():
        clock = (
            as_of if source == "raw.incidents" else min(as_of, _source_clock(source_rows) or as_of)
        )
        for row in source_rows:
            created = _utc(row["created_at"])
            # A merged duplicate has no outcome of its own (its target has): not a label.
            if created > clock or row["severity"] not in SEVERITIES or row["status"] == "MERGED":
                continue
            mapped = {
                **row,
                "affected_services": _json(row["affected_services"]),
                "labels": _json(row["labels"]),
            }
            end = _end(row)
            observed = end is not None and end <= clock
            until = end if observed and end is not None else clock
            hours = max((until - created).total_seconds() / 3600.0, 0.0)
            incident = opened_from_service(mapped)
            items.append(
                (
                    created,
                    str(row["incident_id"]),
                    incident,
                    SEVERITIES.index(row["severity"]),
                    hours,
                    observed,
                    source,
                    incident.services,
                )
            )
    items.sort(key=lambda item: (item[0], item[1]))
    if limit is not None:
        items = items[-limit:] if limit > 0 else []
    outcomes = Outcomes(
        np.array([i[3] for i in items], dtype=np.int64),
        np.array([i[4] for i in items], dtype=np.float64),
        np.array([i[5] for i in items], dtype=np.bool_),
    )
    history = IncidentHistory([i[2] for i in items], outcomes, as_of.replace(tzinfo=None))
    return ServiceHistory(
        history,
        source=[i[6] for i in items],
        teams=[i[2].fields.get("team", "") for i in items],
        services=[i[7] for i in items],
    )


@dataclass(frozen=True)
class Split:
    """A time-ordered split, or the reason there is not enough data for one."""

    data: EvalData | None
    cutoff: datetime | None
    reason: str
    train_rows: int = 0


def time_split(
    whole: IncidentHistory,
    test_fraction: float,
    min_resolved: int,
    min_test_resolved: int,
) -> Split:
    """Train on the incidents opened before the cut-off (outcomes as they stood then), test on
    the latest `test_fraction` of them (outcomes as of `whole.as_of`).

    Returns a `Split` without data, saying why, when there are fewer than `min_resolved`
    resolved incidents to train on, fewer than `min_test_resolved` resolved in the test
    window, or fewer than two severities among the training incidents.
    """
    n = len(whole)
    resolved = int(whole.outcomes.observed.sum())
    if resolved < min_resolved:
        return Split(None, None, f"{resolved} resolved incidents; at least {min_resolved} needed")
    at = min(max(round(n * (1.0 - test_fraction)), 1), n - 1)
    cutoff = whole.incidents[at].opened_at
    opened = whole.opened()
    before = opened < np.datetime64(cutoff, "s")
    train = censor_at(whole.take(before), cutoff)
    test = whole.take(~before)
    train_resolved = int(train.outcomes.observed.sum())
    test_resolved = int(test.outcomes.observed.sum())
    classes = len(np.unique(train.outcomes.severity))
    if train_resolved < min_resolved:
        reason = (
            f"{train_resolved} incidents resolved before the cut-off {cutoff:%Y-%m-%d %H:%M};"
            f" at least {min_resolved} needed to train"
        )
        return Split(None, cutoff, reason, len(train))
    if test_resolved < min_test_resolved:
        reason = (
            f"{test_resolved} incidents resolved in the evaluation window (opened from"
            f" {cutoff:%Y-%m-%d %H:%M}); at least {min_test_resolved} needed"
        )
        return Split(None, cutoff, reason, len(train))
    if classes < 2:
        return Split(None, cutoff, "every training incident has the same severity", len(train))
    return Split(EvalData(train, test), cutoff, "", len(train))
