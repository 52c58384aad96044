"""The PagerDuty Events API v2 event format, validated the way PagerDuty validates it.

Errors are collected (not raised at the first) and answered in PagerDuty's own shape:
`400 {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from incident_service.alerts.errors import InvalidEvent
from incident_service.alerts.inbound import Action, InboundAlert
from incident_service.jsonbody import Unreadable, load_json

MAX_EVENT_BYTES = 512 * 1024
ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
SEVERITIES = ("critical", "error", "warning", "info")
_ACTIONS = {a.value for a in Action}


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def decode(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_EVENT_BYTES:
        raise InvalidEvent([f"Event object is too large (maximum {MAX_EVENT_BYTES} bytes)"])
    try:
        event = load_json(body)
    except Unreadable as exc:
        raise InvalidEvent([f"Event object {exc}"]) from exc
    if not isinstance(event, dict):
        raise InvalidEvent(["Event object must be a JSON object"])
    return event


def _check_timestamp(value: object, errors: list[str]) -> None:
    if value is None:
        return
    try:
        if not isinstance(value, str):
            raise TypeError("not a string")
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        errors.append("'payload.timestamp' is invalid (must be an ISO 8601 date and time)")


def _check_payload(payload: object, errors: list[str]) -> None:
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or invalid")
        return
    summary = payload.get("summary")
    if _blank(summary):
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > MAX_SUMMARY:  # type: ignore[arg-type]
        errors.append(f"'payload.summary' is too long (maximum {MAX_SUMMARY} characters)")
    if _blank(payload.get("source")):
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of the following: "
            "'critical', 'warning', 'error' or 'info')"
        )
    _check_timestamp(payload.get("timestamp"), errors)
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict | str):
        errors.append("'payload.custom_details' must be an object")


def _check_list(event: dict[str, Any], name: str, required: str, errors: list[str]) -> None:
    items = event.get(name)
    if items is None:
        return
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get(required), str) for i in items
    ):
        errors.append(f"'{name}' must be a list of objects each with a '{required}'")


def _routing_key(event: dict[str, Any], errors: list[str]) -> Any:
    """The event's routing key, as given; its problems, in PagerDuty's words, to `errors`."""
    routing_key = event.get("routing_key")
    if _blank(routing_key):
        errors.append("'routing_key' is missing or blank")
    elif len(routing_key) != ROUTING_KEY_LENGTH:  # type: ignore[arg-type]
        errors.append(
            f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)"
        )
    return routing_key


def parse(body: bytes) -> tuple[str, InboundAlert]:
    """The routing key and the alert of one event, or InvalidEvent naming every problem."""
    event = decode(body)
    errors: list[str] = []
    routing_key = _routing_key(event, errors)
    action = event.get("event_action")
    if _blank(action):
        errors.append("'event_action' is missing or blank")
    elif action not in _ACTIONS:
        errors.append("'event_action' is invalid (must be 'trigger', 'acknowledge' or 'resolve')")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' is too long (maximum {MAX_DEDUP_KEY} characters)")
    elif action in ("acknowledge", "resolve") and _blank(dedup_key):
        errors.append("'dedup_key' is missing or blank (required for acknowledge and resolve)")
    if action == "trigger":
        _check_payload(event.get("payload"), errors)
    _check_list(event, "links", "href", errors)
    _check_list(event, "images", "src", errors)
    for name in ("client", "client_url"):
        if name in event and not isinstance(event[name], str):
            errors.append(f"'{name}' must be a string")
    if errors:
        raise InvalidEvent(errors)

    assert isinstance(routing_key, str) and isinstance(action, str)
    payload: dict[str, Any] = event.get("payload") or {}
    # PagerDuty makes up a key for a trigger without one and hands it back.
    key = dedup_key if isinstance(dedup_key, str) and dedup_key else uuid.uuid4().hex
    summary = str(payload.get("summary") or "")
    source = payload.get("source")
    services = [str(payload.get("component") or source)[:200]] if source else []
    details = payload.get("custom_details")
    description = summary
    if details:
        description += "\n\n" + json.dumps(details, indent=2, ensure_ascii=False)[:19_000]
    alert = InboundAlert(
        dedup_key=key,
        action=Action(action),
        summary=summary,
        severity=payload.get("severity"),
        source=str(source) if source else None,
        payload=event | {"routing_key": "[redacted]"},
        services=services,
        description=description,
    )
    return routing_key, alert


def parse_change(body: bytes) -> tuple[str, dict[str, Any]]:
    """A change event (`POST /v2/change/enqueue`): routing key and payload, or InvalidEvent."""
    event = decode(body)
    errors: list[str] = []
    routing_key = _routing_key(event, errors)
    payload = event.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or invalid")
    else:
        summary = payload.get("summary")
        if _blank(summary):
            errors.append("'payload.summary' is missing or blank")
        elif len(summary) > MAX_SUMMARY:  # type: ignore[arg-type]
            errors.append(f"'payload.summary' is too long (maximum {MAX_SUMMARY} characters)")
        if "source" in payload and not isinstance(payload["source"], str):
            errors.append("'payload.source' must be a string")
        _check_timestamp(payload.get("timestamp"), errors)
    _check_list(event, "links", "href", errors)
    _check_list(event, "images", "src", errors)
    if errors:
        raise InvalidEvent(errors)
    assert isinstance(routing_key, str)
    return routing_key, event | {"routing_key": "[redacted]"}


def json_bytes(event: dict[str, Any]) -> bytes:
    """An event as a sender puts it on the wire (for tests and benchmarks)."""
    return json.dumps(event).encode()
