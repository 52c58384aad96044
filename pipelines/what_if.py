"""The model notebook's what-if: an edited incident scored by a model version, and the
automated responses the service's policies would choose for it.

It joins the two sides the packages below keep apart: a version's artifact
(`models.serving`) and the service's response policies, which is why it lives here rather
than in `models/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from incident_service.predictions.scorer import predictions_document
from incident_service.responses.policies import decide, incident_context, load_policies
from incident_service.worker_app import action_types
from models.diagnostics import opened_incident
from models.serving import Artifact, Prediction


@dataclass(frozen=True)
class WhatIf:
    """An edited incident's prediction and the automated responses the policies choose."""

    prediction: Prediction
    actions: list[dict[str, Any]]
    matched: list[dict[str, Any]]


def what_if(
    artifact: Artifact,
    *,
    title: str,
    severity: str,
    team: str,
    services: Sequence[str],
    opened_at: datetime,
    labels: Mapping[str, str] | None = None,
    policy_file: Path | None = None,
    gate: Mapping[str, Any] | None = None,
) -> WhatIf:
    """Score the incident as given and decide its responses with the service's policies
    (`predicted.*` carries the prediction, as the models feed the service).

    `gate`: the version's recorded quality gate; by default the what-if asks what the
    policies would do if the version passed it (pass the recorded one to see the service's
    actual behaviour: below its gate, the policies on predictions are skipped)."""
    prediction = artifact.score(opened_incident(title, team, services, opened_at))
    policies = load_policies(policy_file, action_types())
    context = incident_context(
        severity=severity,
        assigned_team=team,
        affected_services=list(services),
        labels=dict(labels or {}),
        title=title,
        predicted=predictions_document(
            prediction,
            model="what-if",
            version=0,
            trigger="created",
            scored_at=opened_at,
            elapsed_hours=0.0,
            gate=gate if gate is not None else {"passed": True, "failed": []},
        ),
    )
    decision = decide(policies, context)
    actions = [
        {"position": a.position, "action": a.spec.type, "policy": a.policy_id}
        for a in decision.actions
    ]
    return WhatIf(prediction, actions, decision.matched)
