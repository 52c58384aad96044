"""Response types of the search API: one hit per matching incident, timeline entry, alert
or post-mortem, with its rank and a snippet whose matches are given as offsets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from incident_service.vocabulary import IncidentSeverity, IncidentStatus

# The filters accept the incident vocabularies as they are (a new status is filterable).
SearchStatus = IncidentStatus
SearchSeverity = IncidentSeverity


class HitKind(StrEnum):
    """What matched. Notes are timeline entries (their `entry_kind` says which)."""

    INCIDENT = "incident"
    TIMELINE_ENTRY = "timeline_entry"
    ALERT = "alert"
    POSTMORTEM = "postmortem"


class Highlight(msgspec.Struct):
    """A matched word in `snippet`: code-point offsets, `end` exclusive."""

    start: int
    end: int


class SearchHit(msgspec.Struct, kw_only=True):
    """One match. `snippet` is plain text (no markup at all); `highlights` say where the
    matched words are in it; `snippet_html` is the same text HTML-escaped with each match
    in `<mark>`, safe to insert into a page as is."""

    kind: HitKind
    incident_id: str
    incident_title: str
    status: str
    severity: str
    assigned_team: str
    # The timeline entry's or the alert's id; null for an incident or a post-mortem.
    item_id: int | None
    # The timeline entry's kind (`note`, `status_changed`, ...); null for the other kinds.
    entry_kind: str | None
    # When the matched text was written: the incident's creation, the entry's time, the
    # alert's receipt, the post-mortem's generation.
    at: datetime
    rank: float
    snippet: str
    highlights: list[Highlight]
    snippet_html: str
