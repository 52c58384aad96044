"""The event envelope: `{"event_id", "timestamp", "<event_type>": {...}}`.

`incident_created` has exactly the spec's shape; every other event type uses the same
envelope under its own key. Fields not set are omitted, so each event carries one key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec


class AutomatedResponseData(msgspec.Struct):
    action_type: str
    execution_status: str


class IncidentCreatedData(msgspec.Struct):
    incident_id: str
    title: str
    severity: str
    status: str
    affected_services: list[str]
    assigned_team: str
    automated_responses: list[AutomatedResponseData]


class IncidentStatusChangedData(msgspec.Struct):
    incident_id: str
    previous_status: str
    status: str
    severity: str
    assigned_team: str
    actor: str
    note: str | None
    reopen_count: int
    on_behalf_of: str | None = None


class IncidentMergedData(msgspec.Struct):
    """An incident was folded into another (`merged_into`); it is MERGED from now on."""

    incident_id: str
    merged_into: str
    previous_status: str
    severity: str
    assigned_team: str
    actor: str
    reason: str


class AutomatedResponseUpdatedData(msgspec.Struct):
    """An automated response changed status."""

    incident_id: str
    response_id: str
    action_type: str
    previous_status: str | None
    execution_status: str
    attempts: int
    last_error: str | None
    actor: str


class EscalationTarget(msgspec.Struct):
    type: str
    id: str
    recipient: str


class IncidentEscalatedData(msgspec.Struct):
    """An incident moved to another escalation level, by a person or by its policy."""

    incident_id: str
    severity: str
    assigned_team: str
    previous_level: int
    escalation_level: int
    round: int
    reason: str
    actor: str
    targets: list[EscalationTarget]
    on_behalf_of: str | None = None


class PagingFailedData(msgspec.Struct):
    """A notification of an escalation reached nobody: no policy, nobody on call, a broken
    or deleted schedule, or a channel that failed. The escalation falls through to the next
    level or to the team's fallback."""

    incident_id: str
    severity: str
    assigned_team: str
    level: int
    round: int
    target_type: str
    target: str
    recipient: str
    channel: str
    reason: str
    actor: str


class IncidentRoleAssignedData(msgspec.Struct):
    """A person took a role on an incident (`previous_user_id`: whom they relieved)."""

    incident_id: str
    assigned_team: str
    role: str
    user_id: str
    user_name: str
    previous_user_id: str | None
    actor: str


class IncidentRoleRelievedData(msgspec.Struct):
    """A person stopped holding a role on an incident (replaced, or relieved)."""

    incident_id: str
    assigned_team: str
    role: str
    user_id: str
    user_name: str
    actor: str


class IncidentChecklistItemData(msgspec.Struct):
    """A checklist item of an incident was ticked (`..._done`) or unticked (`..._undone`)."""

    incident_id: str
    assigned_team: str
    item_id: int
    role: str
    title: str
    actor: str


class SeveritySuggestedData(msgspec.Struct):
    """The model suggests a more severe severity than the declared one (a person decides)."""

    incident_id: str
    current_severity: str
    suggested_severity: str
    severity_probabilities: dict[str, float] | None = None
    model_version: int | None = None


class IncidentUpdatePostedData(msgspec.Struct):
    """A stakeholder update was posted: its public `status` and Markdown `message`."""

    incident_id: str
    update_id: int
    status: str
    message: str
    severity: str
    incident_status: str
    assigned_team: str
    actor: str
    user_id: str | None
    posted_at: datetime
    next_update_due_at: datetime | None


class IncidentUpdateDueData(msgspec.Struct):
    """An active incident's stakeholder update is overdue (raised once per interval), for
    its communications lead, else its commander, else its assignee, else its team
    (`recipient_type`: communications, commander, assignee or team)."""

    incident_id: str
    severity: str
    status: str
    assigned_team: str
    due_at: datetime
    every_minutes: float
    last_update_at: datetime | None
    recipient_type: str
    recipient: str
    recipient_user_id: str | None


class FollowUpData(msgspec.Struct, kw_only=True):
    """A follow-up created, changed (`changed`, and the state move when there was one),
    exported to a tracker (`system`, `key`, `url`) or past its due instant while still to
    do (`follow_up_overdue`, once per due instant, actor `system`)."""

    incident_id: str
    assigned_team: str
    severity: str
    follow_up_id: str
    title: str
    state: str
    priority: str
    owner_id: str | None
    due_at: str | None
    actor: str | None = None
    changed: list[str] | None = None
    from_state: str | None = None
    to_state: str | None = None
    from_review: bool | None = None
    system: str | None = None
    key: str | None = None
    url: str | None = None


class PostmortemStateChangedData(msgspec.Struct, kw_only=True):
    """A post-mortem moved between draft, in_review and published (of its `version`)."""

    incident_id: str
    assigned_team: str
    severity: str
    from_state: str
    to_state: str
    version: int


class IncidentUpdatedData(msgspec.Struct):
    """One field of an incident edited (PATCH): its value before and after. For
    `assignee` the values are user ids, and the names are beside them."""

    incident_id: str
    field: str
    old: Any
    new: Any
    version: int
    severity: str
    status: str
    assigned_team: str
    actor: str
    old_name: str | None = None
    new_name: str | None = None


class IncidentNoteAddedData(msgspec.Struct):
    """A note written on an incident (`internal` or for `stakeholder`s), Markdown source."""

    incident_id: str
    note_id: int
    visibility: str
    body: str
    author: str
    author_user_id: str | None = None


class IncidentNoteEditedData(msgspec.Struct):
    """A note's body replaced by its author; the previous one is kept in its history."""

    incident_id: str
    note_id: int
    visibility: str
    body: str
    editor: str
    edit_count: int
    editor_user_id: str | None = None


class IncidentLinkData(msgspec.Struct):
    """A link between two incidents added or removed; `type` is as seen from
    `incident_id` (`parent`: `other_incident_id` is its parent)."""

    incident_id: str
    link_id: int
    type: str
    other_incident_id: str
    actor: str


class Event(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One outbox event. Exactly one of the event-type keys is present."""

    event_id: str
    timestamp: str
    incident_created: IncidentCreatedData | None = None
    incident_status_changed: IncidentStatusChangedData | None = None
    incident_merged: IncidentMergedData | None = None
    automated_response_updated: AutomatedResponseUpdatedData | None = None
    incident_escalated: IncidentEscalatedData | None = None
    paging_failed: PagingFailedData | None = None
    incident_role_assigned: IncidentRoleAssignedData | None = None
    incident_role_relieved: IncidentRoleRelievedData | None = None
    incident_checklist_item_done: IncidentChecklistItemData | None = None
    incident_checklist_item_undone: IncidentChecklistItemData | None = None
    severity_suggested: SeveritySuggestedData | None = None
    incident_update_posted: IncidentUpdatePostedData | None = None
    incident_update_due: IncidentUpdateDueData | None = None
    follow_up_created: FollowUpData | None = None
    follow_up_updated: FollowUpData | None = None
    follow_up_exported: FollowUpData | None = None
    follow_up_overdue: FollowUpData | None = None
    postmortem_state_changed: PostmortemStateChangedData | None = None
    incident_updated: IncidentUpdatedData | None = None
    incident_note_added: IncidentNoteAddedData | None = None
    incident_note_edited: IncidentNoteEditedData | None = None
    incident_linked: IncidentLinkData | None = None
    incident_unlinked: IncidentLinkData | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        kind: str = row["event_type"]
        # Every event type written to the outbox has a field here: a new type is added
        # to this struct and to _TYPED, so the OpenAPI document describes it too.
        data = {kind: msgspec.convert(row["payload"], _TYPED[kind])}
        return cls(
            event_id=str(row["event_id"]),
            timestamp=format_timestamp(row["created_at"]),
            **data,  # type: ignore[arg-type]
        )


_TYPED: dict[str, type[msgspec.Struct]] = {
    "incident_created": IncidentCreatedData,
    "incident_status_changed": IncidentStatusChangedData,
    "incident_merged": IncidentMergedData,
    "automated_response_updated": AutomatedResponseUpdatedData,
    "incident_escalated": IncidentEscalatedData,
    "paging_failed": PagingFailedData,
    "incident_role_assigned": IncidentRoleAssignedData,
    "incident_role_relieved": IncidentRoleRelievedData,
    "incident_checklist_item_done": IncidentChecklistItemData,
    "incident_checklist_item_undone": IncidentChecklistItemData,
    "severity_suggested": SeveritySuggestedData,
    "incident_update_posted": IncidentUpdatePostedData,
    "incident_update_due": IncidentUpdateDueData,
    "follow_up_created": FollowUpData,
    "follow_up_updated": FollowUpData,
    "follow_up_exported": FollowUpData,
    "follow_up_overdue": FollowUpData,
    "postmortem_state_changed": PostmortemStateChangedData,
    "incident_updated": IncidentUpdatedData,
    "incident_note_added": IncidentNoteAddedData,
    "incident_note_edited": IncidentNoteEditedData,
    "incident_linked": IncidentLinkData,
    "incident_unlinked": IncidentLinkData,
}
EVENT_TYPES = frozenset(_TYPED)


def format_timestamp(at: datetime) -> str:
    """`2025-06-21T10:00:00.000Z`: UTC, milliseconds, Z, as the spec's example."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
