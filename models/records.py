"""What is known about an incident at the moment it opens: the one input of every model.

The ServiceNow loader and (later) the service both build `OpenedIncident`s; the feature
function in `features.py` only ever sees these, so training and serving cannot diverge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

# Final severity classes, most severe first (ServiceNow priority 1..4 map onto them).
SEVERITIES: tuple[str, ...] = ("SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW")


@dataclass(frozen=True)
class OpenedIncident:
    """One incident as it stood when it was opened (nothing learnt later).

    Attributes:
        opened_at: when it opened (naive UTC).
        text: free text known at open (title and description); may be empty.
        fields: categorical facts at open, e.g. {"team": "db", "category": "Category 9"}.
        services: affected services (or configuration items).
        numeric: numeric facts at open, by name (missing names count as absent).
        recent: counts of incidents opened shortly before this one, by window name.
    """

    opened_at: datetime
    text: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    numeric: Mapping[str, float] = field(default_factory=dict)
    recent: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcomes:
    """Targets aligned with a list of incidents (n of them).

    Attributes:
        severity: (n,) int, index into SEVERITIES of the final severity.
        duration_hours: (n,) float, hours from open to resolution, or to the censoring time.
        observed: (n,) bool, True when resolved (False: still open, right-censored).
    """

    severity: NDArray[np.int64]
    duration_hours: NDArray[np.float64]
    observed: NDArray[np.bool_]

    def subset(self, mask: NDArray[np.bool_]) -> Outcomes:
        return Outcomes(self.severity[mask], self.duration_hours[mask], self.observed[mask])


@dataclass(frozen=True)
class IncidentHistory:
    """A time-ordered history: incidents, their outcomes as of `as_of`, and that moment."""

    incidents: list[OpenedIncident]
    outcomes: Outcomes
    as_of: datetime

    def __len__(self) -> int:
        return len(self.incidents)

    def take(self, mask: NDArray[np.bool_]) -> IncidentHistory:
        chosen = [inc for inc, keep in zip(self.incidents, mask, strict=True) if keep]
        return IncidentHistory(chosen, self.outcomes.subset(mask), self.as_of)

    def opened(self) -> NDArray[np.datetime64]:
        return np.array([inc.opened_at for inc in self.incidents], dtype="datetime64[s]")
