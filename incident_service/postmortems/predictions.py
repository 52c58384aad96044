"""The seam for "what the models predicted against what happened" (models from issue 6).

A `Predictor` takes the incident row as it is stored and returns the predictions made
for it, or None when no model is available. `artifact_predictor` adapts a trained
`models.serving.Artifact` file; the service passes one when it is configured with a
model, and the post-mortem says plainly when there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from incident_service.postmortems.schemas import Prediction

log = logging.getLogger(__name__)

Predictor = Callable[[dict[str, Any]], list[Prediction] | None]


def artifact_predictor(path: Path) -> Predictor:
    """Score the incident as it was when opened with the model artifact at `path`."""
    from models.records import OpenedIncident
    from models.serving import Artifact

    artifact = Artifact.from_bytes(path.read_bytes())

    def predict(incident: dict[str, Any]) -> list[Prediction] | None:
        opened = OpenedIncident(
            opened_at=incident["created_at"].replace(tzinfo=None),
            text=f"{incident['title']} {incident.get('description') or ''}",
            fields={"team": incident["assigned_team"]},
            services=tuple(incident.get("affected_services") or ()),
        )
        scored = artifact.score(opened)
        actual_h = None
        if incident.get("resolved_at") is not None:
            actual_h = (incident["resolved_at"] - incident["created_at"]).total_seconds() / 3600
        return [
            Prediction(
                model=path.name,
                target="severity",
                predicted=scored.suggested_severity,
                actual=str(incident["severity"]),
            ),
            Prediction(
                model=path.name,
                target="time to resolve (hours)",
                predicted=f"{scored.ttr_p50_hours:.1f} (p10 {scored.ttr_p10_hours:.1f},"
                f" p90 {scored.ttr_p90_hours:.1f})",
                actual=f"{actual_h:.1f}" if actual_h is not None else "not resolved",
            ),
        ]

    return predict
