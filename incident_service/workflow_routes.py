"""The workflow-facing routes (responses, escalation, subscribers), gathered for `app.py`."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from incident_service.config import Settings
from incident_service.escalation.routes import (
    EscalationPolicyController,
    ScheduleController,
    escalate,
    escalation_status,
)
from incident_service.relay.routes import SubscriberController
from incident_service.responses.policies import PolicyFile, cached_policies
from incident_service.responses.routes import ResponseController, response_policies
from incident_service.worker_app import action_types

WORKFLOW_ROUTES: list[ControllerRouterHandler] = [
    ResponseController,
    response_policies,
    ScheduleController,
    EscalationPolicyController,
    escalate,
    escalation_status,
    SubscriberController,
]


def load_response_policies(settings: Settings) -> PolicyFile:
    """Read (and validate) the response-policy file once; a bad file stops start-up."""
    return cached_policies(settings.response_policies_path, action_types())
