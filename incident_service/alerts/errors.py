"""Inbound errors in the senders' own shapes (mapped to HTTP by app.py like every other)."""

from __future__ import annotations

from typing import Any

from incident_service.errors import BadSignature, IncidentError, NotFound, ValidationFailed


class InvalidEvent(IncidentError):
    """A PagerDuty Events API v2 event PagerDuty itself would refuse: its 400 body."""

    status_code = 400
    title = "invalid event"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("Event object is invalid")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"status": "invalid event", "message": self.message, "errors": self.errors}


class UnknownIntegrationKey(NotFound):
    """No enabled integration of that kind has this key (the key itself is never echoed)."""


__all__ = [
    "BadSignature",
    "InvalidEvent",
    "ThrottledEvent",
    "UnknownIntegrationKey",
    "ValidationFailed",
]


class ThrottledEvent(IncidentError):
    """Over the integration's intake rate: 429 with Retry-After, in PagerDuty's shape
    (the Events API answers a routing key that sends too fast the same way)."""

    status_code = 429
    title = "throttle event"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Requests for this integration are arriving too quickly; retry later")
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {
            "status": "throttle event",
            "message": self.message,
            "errors": [],
            "retry_after": self.retry_after,
        }
