"""Response types of the search API: one hit per matching incident, timeline entry, alert
or post-mortem, with its rank and a snippet whose matches are given as offsets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import msgspec

# The incident vocabularies, as the filters accept them. Kept here until the lifecycle's
# enums are shared by every package that filters on them.
SearchStatus = Literal[
    "OPEN",
    "ACKNOWLEDGED",
    "INVESTIGATING",
    "IDENTIFIED",
    "MONITORING",
    "RESOLVED",
    "CLOSED",
    "MERGED",
]
SearchSeverity = Literal["SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW"]


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
