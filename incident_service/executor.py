"""The action-executor protocol: what the response workflow calls, and how a call fails.

An executor is any object with `action_type` and `async execute(ctx) -> dict`; it raises
`ActionFailed` (retryable or not) when the action did not happen. The response workflow
looks executors up by name in the catalog the worker composition built
(`incident_service/worker_app.py`), so a new one needs no workflow change. An executor
whose target is not configured raises `ActionSkipped`: the response ends skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ActionContext:
    response_id: str
    incident_id: str
    action_type: str
    params: dict[str, Any]
    incident: dict[str, Any]
    attempt: int
    timeout_s: float


class ActionFailed(Exception):
    """The action (or a delivery) did not happen. `retryable` says whether trying again
    may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ActionSkipped(Exception):
    """The action has nothing to act on here: its target is not configured (no
    AUTOMATION_URL, no TICKET_URL, ...). Not a failure: the response ends `skipped` with
    this reason, so a fresh install fails nothing and pages nobody by surprise."""


class ActionExecutor(Protocol):
    action_type: str

    async def execute(self, ctx: ActionContext) -> dict[str, Any]: ...
