"""A post-mortem's review states as data: which state may follow which.

A draft goes to review; a review goes back to draft or is published; a published
post-mortem is frozen, and going back to draft starts its next version (the published one
stays readable). Regenerating a published post-mortem (the incident was reopened and
resolved again) starts the next version as well.
"""

from __future__ import annotations

from enum import StrEnum

from incident_service.errors import InvalidTransition


class PostmortemState(StrEnum):
    """In lifecycle order."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


P = PostmortemState

ALLOWED: dict[PostmortemState, frozenset[PostmortemState]] = {
    P.DRAFT: frozenset({P.IN_REVIEW}),
    P.IN_REVIEW: frozenset({P.DRAFT, P.PUBLISHED}),
    P.PUBLISHED: frozenset({P.DRAFT}),
}


def check_move(incident_id: str, current: PostmortemState, target: PostmortemState) -> None:
    """Refuse a move the table does not allow (the same state again is not a move)."""
    if target is current or target in ALLOWED[current]:
        return
    allowed = [s.value for s in PostmortemState if s in ALLOWED[current]]
    msg = (
        f"the post-mortem of {incident_id} cannot move from {current.value} to {target.value}"
        f" (allowed: {', '.join(allowed)})"
    )
    raise InvalidTransition(
        msg, current_state=current.value, requested_state=target.value, allowed=allowed
    )
