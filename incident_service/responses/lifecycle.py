"""An automated response's lifecycle as data: which execution status may follow which.

The worker begins a pending response (in_progress) and finishes it (succeeded, failed or
skipped; a response cancelled or finished before it began goes straight there); a person
cancels a pending or running one (skipped) and retries a failed or skipped one (pending
again); a page that reached nobody turns a succeeded `page_oncall` into failed. Moving
to the status a response already has is a repeat (a re-run step), not a move.
"""

from __future__ import annotations

from collections.abc import Iterable

from incident_service.errors import InvalidTransition
from incident_service.vocabulary import ResponseStatus

R = ResponseStatus

ALLOWED: dict[ResponseStatus, frozenset[ResponseStatus]] = {
    R.PENDING: frozenset({R.IN_PROGRESS, R.SUCCEEDED, R.FAILED, R.SKIPPED}),
    R.IN_PROGRESS: frozenset({R.SUCCEEDED, R.FAILED, R.SKIPPED}),
    R.SUCCEEDED: frozenset({R.FAILED}),
    R.FAILED: frozenset({R.PENDING}),
    R.SKIPPED: frozenset({R.PENDING}),
}


def may_move(current: str, to: str) -> bool:
    return current == to or ResponseStatus(to) in ALLOWED[ResponseStatus(current)]


def sources(to: ResponseStatus) -> list[ResponseStatus]:
    """The statuses a response may move to `to` from, in lifecycle order."""
    return [s for s in ResponseStatus if to in ALLOWED[s]]


def check_moves(from_any: Iterable[str], to: str) -> None:
    """Refuse a move from any of `from_any` to `to` that the table does not allow."""
    refused = [f for f in from_any if not may_move(f, to)]
    if refused:
        msg = f"a response cannot move from {', '.join(refused)} to {to}"
        raise InvalidTransition(msg, execution_status=refused[0])
