"""A follow-up's lifecycle as data: which state may follow which.

Work starts (open -> in_progress) and may stop again (in_progress -> open); it ends done
or won't do, from either; an ended follow-up may be reopened (done/wont_do -> open), and
moves on from there. Done is reached from open too: a Jira issue closed before anyone
marked the work started closes its follow-up.
"""

from __future__ import annotations

from enum import StrEnum

from incident_service.errors import InvalidTransition


class FollowUpState(StrEnum):
    """In lifecycle order."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"


class FollowUpPriority(StrEnum):
    """Least urgent first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


F = FollowUpState

ALLOWED: dict[FollowUpState, frozenset[FollowUpState]] = {
    F.OPEN: frozenset({F.IN_PROGRESS, F.DONE, F.WONT_DO}),
    F.IN_PROGRESS: frozenset({F.OPEN, F.DONE, F.WONT_DO}),
    F.DONE: frozenset({F.OPEN}),
    F.WONT_DO: frozenset({F.OPEN}),
}

# States in which the work is still to do: a due date passed in one of these is overdue.
ACTIVE: frozenset[FollowUpState] = frozenset({F.OPEN, F.IN_PROGRESS})


def allowed_from(current: FollowUpState) -> list[FollowUpState]:
    """The states `current` may move to, in lifecycle order (for error bodies)."""
    return [s for s in FollowUpState if s in ALLOWED[current]]


def check_move(follow_up_id: str, current: FollowUpState, target: FollowUpState) -> None:
    """Refuse a move the table does not allow (the same state again is not a move)."""
    if target is current or target in ALLOWED[current]:
        return
    allowed = [s.value for s in allowed_from(current)]
    msg = (
        f"follow-up {follow_up_id} cannot move from {current.value} to {target.value}"
        f" (allowed: {', '.join(allowed)})"
    )
    raise InvalidTransition(
        msg, current_state=current.value, requested_state=target.value, allowed=allowed
    )
