"""The synthetic history of `pipelines/synthetic.py` as an `IncidentHistory`, for evaluation.

The generator's frames come in as arguments (`GeneratedHistory`): the ML package does not
import the pipelines that generate them.

Only what its generator says is known when an incident opens is used: the title, the
affected services (and the primary one's tier), the team, who opened it, recent load, and
the service's earlier deploys: hours since its last deploy and since its last one flagged
risky (a deploy's flag is set when it is made, before any incident it causes). Its declared
severity is the target, never an input.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import polars as pl

from models.evaluate import EvalData, later_than
from models.records import SEVERITIES, IncidentHistory, OpenedIncident, Outcomes
from models.servicenow_history import recent_counts
from models.train import censor_at


class GeneratedHistory(Protocol):
    """What `pipelines.synthetic.generate_history` returns (its `SyntheticHistory`)."""

    @property
    def services(self) -> pl.DataFrame: ...
    @property
    def deploys(self) -> pl.DataFrame: ...
    @property
    def incidents(self) -> pl.DataFrame: ...
    @property
    def as_of(self) -> datetime: ...


def _naive(t: datetime) -> datetime:
    return t.replace(tzinfo=None)


def _hours_since(moments: np.ndarray | None, hour: float) -> float | None:
    """Hours from the latest of `moments` (sorted, in hours) at or before `hour`, if any."""
    if moments is None:
        return None
    j = int(np.searchsorted(moments, hour, side="right"))
    return float(hour - moments[j - 1]) if j else None


def to_history(generated: GeneratedHistory) -> IncidentHistory:
    inc = generated.incidents.sort("created_at")
    tiers = dict(zip(generated.services["service"], generated.services["tier"], strict=True))
    opened = [_naive(t) for t in inc["created_at"].to_list()]
    hours = np.array([t.timestamp() for t in opened]) / 3600.0
    services: list[str] = inc["service"].to_list()
    teams: list[str] = inc["assigned_team"].to_list()
    deploys = generated.deploys.sort("deployed_at")
    deploy_hours: dict[str, np.ndarray] = {
        s: np.sort([_naive(t).timestamp() for t in g["deployed_at"].to_list()]) / 3600.0
        for (s,), g in deploys.group_by("service")
    }
    risky_hours: dict[str, np.ndarray] = {
        s: np.sort([_naive(t).timestamp() for t in g["deployed_at"].to_list()]) / 3600.0
        for (s,), g in deploys.filter(pl.col("risky")).group_by("service")
    }
    recent = {
        "service_24h": recent_counts(hours, services, 24.0),
        "team_24h": recent_counts(hours, teams, 24.0),
        "all_24h": recent_counts(hours, ["*"] * len(hours), 24.0),
    }
    incidents = []
    for i, row in enumerate(inc.iter_rows(named=True)):
        numeric = {
            name: since
            for name, table in (
                ("hours_since_deploy", deploy_hours),
                ("hours_since_risky_deploy", risky_hours),
            )
            if (since := _hours_since(table.get(row["service"]), hours[i])) is not None
        }
        incidents.append(
            OpenedIncident(
                opened_at=opened[i],
                text=row["title"] or "",
                fields={
                    "team": row["assigned_team"],
                    "created_by": row["created_by"],
                    "tier": str(tiers.get(row["service"], "")),
                },
                services=tuple(row["affected_services"] or ()),
                numeric=numeric,
                recent={k: int(v[i]) for k, v in recent.items()},
            )
        )
    as_of = _naive(generated.as_of)
    resolved = inc["resolved_at"].to_list()
    observed = np.array([r is not None for r in resolved])
    duration = np.array(
        [
            ((_naive(r) if r is not None else as_of) - o).total_seconds() / 3600.0
            for r, o in zip(resolved, opened, strict=True)
        ]
    )
    severity = np.array([SEVERITIES.index(s) for s in inc["severity"]], dtype=np.int64)
    return IncidentHistory(incidents, Outcomes(severity, duration, observed), as_of)


def synthetic_split(generated: GeneratedHistory, train_share: float = 0.6) -> EvalData:
    """A generated history split by time: train on the first `train_share` of the days, with
    outcomes as they stood at the cut-off; test on what opened after."""
    whole = to_history(generated)
    first = whole.incidents[0].opened_at
    span = whole.as_of - first
    cutoff = first + timedelta(seconds=span.total_seconds() * train_share)
    train = censor_at(whole.take(whole.opened() < np.datetime64(cutoff, "s")), cutoff)
    return EvalData(train, later_than(whole, cutoff))


__all__ = ["GeneratedHistory", "synthetic_split", "to_history"]
