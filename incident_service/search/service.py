"""The search rules: what a query must be, the cursor, and snippets made safe to show.

Takes a connection inside the caller's transaction and never commits; knows nothing of HTTP.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
from datetime import datetime
from typing import Any

from incident_service.crud import Page, one_page
from incident_service.db import AsyncConn
from incident_service.errors import ValidationFailed
from incident_service.search import phrases, repository
from incident_service.search.schemas import Highlight, HitKind, SearchHit
from incident_service.text import is_blank

# Of each kind, the most recent matches that are ranked (see repository).
RANK_WINDOW = 200
# A kind whose expected matches exceed this many windows is searched from the filtered
# incidents when a filter on the incident is given (see repository._BY_INCIDENT): below
# it, reading every match through the GIN index is cheap whatever the filter keeps.
BY_INCIDENT_WINDOWS = 10
# Post-mortems are walked newest first against the filtered incidents hashed in memory
# (repository._POSTMORTEMS_BY_FILTER) when the planner expects at most this many: a
# hash PostgreSQL would not keep in work_mem (4 MB by default, times hash_mem_multiplier)
# becomes a list scanned once per post-mortem. Above it, the filtered incidents are
# walked for their post-mortems, as for the other kinds.
HASHED_INCIDENTS = 100_000
# A phrase's matches of a kind are all read through the pairs' index, and the newest
# kept (repository._ORDER), when the planner expects few enough of them; otherwise the
# planner chooses (it walks the kind newest first until `window` match, or reads the
# index). Reading m matches through the index costs about m scattered rows, from pages
# mostly out of PostgreSQL's cache; the walk about window * rows / m rows from the newest
# pages, some 20 times cheaper each (a post-mortem's twice as dear as through the index:
# its tsvector is read out of line). Equal at m = sqrt(window * rows * factor): 3,200 of
# a million timeline entries, 3,400 of 28,568 post-mortems.
PAIRS_READ_WHOLE = {"incident": 0.05, "timeline_entry": 0.05, "alert": 0.05, "postmortem": 2.0}
# Without incident filters, a phrase's kind is read one of three ways, whichever costs
# least for the planner's expected matches m of the kind's n rows (repository._NEWEST):
# all m matches through the pairs' index; a walk newest first over window * n / m rows;
# or the matches among the newest 1.5 * window * n / m rows only, found by ANDing the
# pairs' index with a range of the recency index. Per kind, microseconds: a match read
# through the pairs' index, a row walked, an entry of the recency range (its bound read
# through the same index, for the kinds ordered by a time). Measured on the benchmark's
# data with warm caches (docs/performance.md, "Search"). Post-mortems' range is not ANDed
# with the pairs by the planner: it walks the range checking each one's pairs, stored out
# of line (9 us a row), so that is its cost in range.
_PHRASE_COSTS_US = {
    "incident": (3.5, 1.1, 0.26),
    "timeline_entry": (3.5, 0.42, 0.06),
    "alert": (3.5, 0.5, 0.06),
    "postmortem": (3.7, 4.0, 9.0),
}
NEWEST_MARGIN = 1.5
_INCIDENT_FILTERS = ("assigned_team", "status", "severity")


def _invalid(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"invalid {key}", [{"key": key, "message": message, "source": "query"}])


async def search(
    conn: AsyncConn,
    q: str,
    *,
    filters: dict[str, Any],
    cursor: str | None,
    limit: int,
    window: int = RANK_WINDOW,
) -> Page[SearchHit]:
    """The page of hits after `cursor`, best first. `filters`: assigned_team, status,
    severity (equality on the incident) and from/to (when the matched text was written)."""
    if is_blank(q):
        raise _invalid("q", "must contain something to search for")
    if filters.get("from") and filters.get("to") and filters["from"] >= filters["to"]:
        raise _invalid("from", "must be before `to`")
    after = decode_cursor(cursor)
    parsed = await repository.parse(conn, q)
    if parsed is None:
        raise _invalid("q", "is nested too deeply to search (too many operators in a row)")
    tsquery, searchable = parsed
    if not searchable:
        if cursor is None:
            raise _invalid("q", "has no words to search for (only common words or punctuation)")
        return one_page([], limit, lambda _: "", _hit)
    plan = await plan_search(conn, q, tsquery, filters, window)
    rows = await repository.search(
        conn,
        q=q,
        filters=filters,
        after=after,
        limit=limit + 1,
        window=window,
        plan=plan,
    )
    return one_page(
        rows,
        limit,
        lambda last: encode_cursor(last["rank"], last["at"], last["kind"], last["key"]),
        _hit,
    )


async def plan_search(
    conn: AsyncConn, q: str, tsquery: str, filters: dict[str, Any], window: int
) -> repository.Plan:
    """How to find each kind's matches of `q` (`tsquery`: q as PostgreSQL reads it): its
    phrases' pairs, and from the planner's estimates (one EXPLAIN, planned but not run,
    only for a phrase or under an incident filter) which kinds to walk from the filtered
    incidents and how to read post-mortems."""
    pairs = phrases.required_pairs(tsquery)
    if not pairs.pairs and not filters_incidents(filters):
        return repository.Plan()
    expected = await repository.estimated_matches(conn, q, filters, pairs.pairs)
    return choose(expected, window, pairs, filters)


def choose(
    expected: dict[str, float],
    window: int,
    pairs: phrases.Pairs = phrases.Pairs(),
    filters: dict[str, Any] | None = None,
) -> repository.Plan:
    """The plan for the planner's expected matches per kind (and, under
    repository.FILTERED, the incidents the filters keep)."""
    by_incident = (
        by_incident_kinds(expected, window) if filters_incidents(filters or {}) else frozenset()
    )
    if pairs.pairs and not filters_incidents(filters or {}):
        whole, newest = phrase_readings(expected, window)
        return repository.Plan(
            pairs=pairs.pairs, exact=pairs.exact, read_whole=whole, newest=newest
        )
    return repository.Plan(
        pairs=pairs.pairs,
        exact=pairs.exact,
        by_incident=by_incident,
        postmortems_by_filter=expected.get(repository.FILTERED, 0.0) <= HASHED_INCIDENTS,
        read_whole=frozenset(
            kind
            for kind, factor in PAIRS_READ_WHOLE.items()
            if pairs.pairs
            and expected.get(kind, 0.0)
            <= math.sqrt(window * expected.get(f"{repository.ROWS} {kind}", 0.0) * factor)
        )
        - by_incident,
    )


def phrase_readings(
    expected: dict[str, float], window: int
) -> tuple[frozenset[str], dict[str, int]]:
    """For a phrase without incident filters: the kinds read whole through the pairs'
    index, and those read among their newest rows first (kind -> span); the others are
    walked newest first (see _PHRASE_COSTS_US)."""
    whole: set[str] = set()
    newest: dict[str, int] = {}
    for kind, (through_index, walked, in_range) in _PHRASE_COSTS_US.items():
        matches = max(expected.get(kind, 0.0), 1.0)
        rows = expected.get(f"{repository.ROWS} {kind}", 0.0)
        span = math.ceil(NEWEST_MARGIN * window * rows / matches)
        costs = {
            "whole": matches * through_index,
            "walk": window * rows / matches * walked,
            "newest": span * in_range + NEWEST_MARGIN * window * through_index,
        }
        best = min(costs, key=costs.__getitem__)
        if best == "whole" or (best == "newest" and span >= rows):
            whole.add(kind)
        elif best == "newest":
            newest[kind] = span
    return frozenset(whole), newest


def filters_incidents(filters: dict[str, Any]) -> bool:
    return any(filters.get(name) is not None for name in _INCIDENT_FILTERS)


def by_incident_kinds(expected: dict[str, float], window: int) -> frozenset[str]:
    """The kinds whose expected matches make the walk from the incidents the cheaper one."""
    return frozenset(
        k
        for k, rows in expected.items()
        if k in PAIRS_READ_WHOLE and rows > BY_INCIDENT_WINDOWS * window
    )


def _hit(row: dict[str, Any]) -> SearchHit:
    snippet, highlights, snippet_html = split_headline(row["headline"] or "")
    return SearchHit(
        kind=HitKind(row["kind"]),
        incident_id=row["incident_id"],
        incident_title=row["incident_title"],
        status=row["status"],
        severity=row["severity"],
        assigned_team=row["assigned_team"],
        item_id=row["item_id"],
        entry_kind=row["entry_kind"],
        at=row["at"],
        rank=row["rank"],
        snippet=snippet,
        highlights=highlights,
        snippet_html=snippet_html,
    )


def split_headline(headline: str) -> tuple[str, list[Highlight], str]:
    """ts_headline's text with its markers -> (plain text, match offsets, escaped HTML).

    The text was stripped of the marker characters before ts_headline saw it, so every
    marker here is one ts_headline added; nothing of the text reaches the HTML unescaped.
    """
    plain: list[str] = []
    marked: list[str] = []
    highlights: list[Highlight] = []
    length = 0
    start: int | None = None
    segment: list[str] = []

    def flush() -> None:
        text = "".join(segment)
        plain.append(text)
        marked.append(html.escape(text, quote=True))
        segment.clear()

    for char in headline:
        if char == repository.START and start is None:
            flush()
            start = length
            marked.append("<mark>")
        elif char == repository.STOP and start is not None:
            flush()
            marked.append("</mark>")
            highlights.append(Highlight(start, length))
            start = None
        elif char not in (repository.START, repository.STOP):
            segment.append(char)
            length += 1
    flush()
    if start is not None:  # never left open by ts_headline; closed all the same
        marked.append("</mark>")
        highlights.append(Highlight(start, length))
    return "".join(plain), highlights, "".join(marked)


def encode_cursor(rank: float, at: datetime, kind: str, key: str) -> str:
    raw = json.dumps([repr(rank), at.isoformat(), kind, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, datetime, str, str] | None:
    """The opaque cursor back into (rank, at, kind, key); garbage is a 400 naming it."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank_text, at_text, kind, key = json.loads(raw)
        rank = float(rank_text)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or not 0.0 <= rank <= 1.0 or kind not in set(HitKind):
            raise ValueError("not issued here")
        if not isinstance(key, str) or not 0 < len(key) <= 100 or "\x00" in key:
            raise ValueError("not issued here")
        return rank, at, kind, key
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid("cursor", "not a cursor this API issued") from exc
