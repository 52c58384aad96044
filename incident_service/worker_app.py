"""The worker's composition root: every part of `incident-service worker`, built from the
settings in one place and handed down (the API's is `create_app(settings)` in app.py).

- `ACTIONS`: the action catalog, `action_type` -> how to build its executor. The response
  policies may name exactly these (the API validates the policy file against
  `action_types()`).
- `CHANNELS`: the notification channels by name; an escalation notification names one.
- `compose_worker`: the executors, the channels, the domains' workflow instances and the
  inbox handlers by kind, as plain data.

A new action or channel is one module plus one line here (docs/workflows.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from incident_service.durable import Resources
from incident_service.escalation.notify import Channel, webhook_channel
from incident_service.escalation.paging import PageOnCall
from incident_service.escalation.workflows import EscalationWorkflows
from incident_service.executor import ActionExecutor
from incident_service.followups.overdue import raise_overdue
from incident_service.integrations.workflows import IntegrationSync
from incident_service.predictions.actions import SuggestSeverity
from incident_service.responses import actions
from incident_service.responses.workflows import ResponseWorkflows
from incident_service.updates.workflows import Sweeps, raise_update_reminders
from incident_service.workflows.inbox import Handler
from incident_service.workflows.intake import incident_opened

ChannelFactory = Callable[[Resources], Channel]
# An executor gets the worker's resources and its channels (page_oncall tells the
# team's fallback through the webhook channel).
ActionFactory = Callable[[Resources, Mapping[str, Channel]], ActionExecutor]

CHANNELS: Mapping[str, ChannelFactory] = {
    "webhook": lambda r: webhook_channel(r.settings, r.http),
}

ACTIONS: Mapping[str, ActionFactory] = {
    "scale_up_service": lambda r, c: actions.automation("scale_up_service", r.settings, r.http),
    "restart_service": lambda r, c: actions.automation("restart_service", r.settings, r.http),
    "rollback_deploy": lambda r, c: actions.automation("rollback_deploy", r.settings, r.http),
    "run_runbook": lambda r, c: actions.automation("run_runbook", r.settings, r.http),
    "create_ticket": lambda r, c: actions.create_ticket(r.settings, r.http),
    "notify_webhook": lambda r, c: actions.notify_webhook(r.settings, r.http),
    "page_oncall": lambda r, c: PageOnCall(
        r.pool, c["webhook"], fallback_set=r.settings.notify_webhook_url is not None
    ),
    "suggest_severity": lambda r, c: SuggestSeverity(r.pool),
}


def action_types() -> frozenset[str]:
    """What the response policies may name."""
    return frozenset(ACTIONS)


@dataclass(frozen=True)
class WorkerParts:
    executors: Mapping[str, ActionExecutor]
    channels: Mapping[str, Channel]
    responses: ResponseWorkflows
    escalation: EscalationWorkflows
    sync: IntegrationSync
    inbox_handlers: Mapping[str, Handler]
    sweeps: Sweeps


def compose_worker(resources: Resources) -> WorkerParts:
    """Build the worker's parts. Once per process, before DBOS launches: the workflow
    classes are DBOS configured instances, which DBOS finds again by name on recovery."""
    channels = {name: build(resources) for name, build in CHANNELS.items()}
    executors = {name: build(resources, channels) for name, build in ACTIONS.items()}
    responses = ResponseWorkflows(resources, executors)
    escalation = EscalationWorkflows(resources, channels)
    return WorkerParts(
        executors=executors,
        channels=channels,
        responses=responses,
        escalation=escalation,
        sync=IntegrationSync(resources),
        inbox_handlers={
            "incident_opened": incident_opened(responses, escalation),
            "response_retry": responses.on_retry,
            "escalation_start": escalation.on_start,
        },
        # Rounds by name (each its own advisory lock): what passing time makes due.
        sweeps=Sweeps(
            resources,
            {"update_reminders": raise_update_reminders, "follow_ups_overdue": raise_overdue},
        ),
    )
