"""Small seeded histories with a known signal, for fast model tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from models.records import IncidentHistory, OpenedIncident, Outcomes

START = datetime(2025, 3, 3)


def tiny_history(n: int = 400, seed: int = 0, days: float = 20.0) -> IncidentHistory:
    """Category decides the severity (mostly) and the scale of the time to resolve."""
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, 4, n)
    opened = np.sort(rng.uniform(0, days * 24, n))
    severity = np.where(rng.random(n) < 0.85, cats, rng.integers(0, 4, n)).astype(np.int64)
    true = rng.lognormal(np.log([1.0, 4.0, 12.0, 48.0])[cats], 0.5)
    end = days * 24
    observed = opened + true < end
    duration = np.where(observed, true, end - opened)
    incidents = [
        OpenedIncident(
            opened_at=START + timedelta(hours=float(opened[i])),
            text=f"database {['outage', 'latency', 'errors', 'question'][cats[i]]} on checkout",
            fields={"category": f"c{cats[i]}", "team": f"t{i % 3}"},
            services=(f"svc{cats[i] % 2}",),
            numeric={"created_lag_hours": float(rng.exponential(0.2))},
            recent={"all_24h": int(rng.integers(0, 30))},
        )
        for i in range(n)
    ]
    return IncidentHistory(
        incidents,
        Outcomes(severity, duration.astype(np.float64), observed),
        START + timedelta(hours=end),
    )
