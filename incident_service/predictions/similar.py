"""Similar past incidents: the nearest earlier incidents *of the same team* to one
incident, by the words of its title and description and by its affected services, each
with the reason it matched.

The one definition: `similar` (and its result, `schemas.SimilarIncident`) is what
`GET /api/v1/incidents/{id}/similar` serves, what post-mortems list and what the review
notebook shows (through the API). Teams are a security boundary, so the team filter is
in the SQL that finds the candidates: another team's incident is never even read.

Candidates come from two indexed searches (the full-text index on title + description and
the GIN index on affected_services, migration 0060/0001), bounded to the most recent
`_CANDIDATES`. They are ranked here: cosine similarity of the word sets weighted by how rare
each word is among the candidates (a word every incident has says little), plus the
Jaccard overlap of the services.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn, fetch_all, fetch_one
from incident_service.errors import found, missing_incident
from incident_service.predictions.schemas import SimilarIncident

_CANDIDATES = 500
_MAX_QUERY_WORDS = 30
_MAX_SERVICES = 20
_WORD = re.compile(r"[a-z0-9][a-z0-9_\-]{1,39}")
# Words that say nothing about what broke, in the incident titles we see.
_STOP_WORDS = (
    "the and for with from into that this are was were has have had not but all any "
    "can our out its after before over under high low new via per or on in at of to is it "
    "as be by an we no so do if"
)
_STOP = frozenset(_STOP_WORDS.split(" "))
TEXT_WEIGHT, SERVICE_WEIGHT = 0.6, 0.4


def words(text: str) -> set[str]:
    """The distinct words of `text` as the full-text index splits them (lower case)."""
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and not w.isdigit()}


def _reason(shared_services: list[str], shared_words: list[str]) -> str:
    parts = []
    if shared_services:
        parts.append(f"same services: {', '.join(shared_services)}")
    if shared_words:
        parts.append(f"shared words: {', '.join(shared_words)}")
    return "; ".join(parts)


def _hours_to_resolve(created_at: datetime, resolved_at: datetime | None) -> float | None:
    if resolved_at is None:
        return None
    return (resolved_at - created_at).total_seconds() / 3600.0


_COLUMNS = (
    "incident_id, title, description, severity, status, assigned_team, affected_services,"
    " created_at, resolved_at"
)


async def _incident(conn: AsyncConn, incident_id: str, team: str | None) -> dict[str, Any]:
    return found(
        await fetch_one(
            conn,
            f"select {_COLUMNS} from incidents where incident_id = %s"
            " and (%s::text is null or assigned_team = %s::text)",
            (incident_id, team, team),
        ),
        missing_incident(incident_id),
    )


async def _candidates(
    conn: AsyncConn, me: dict[str, Any], query_words: list[str]
) -> list[dict[str, Any]]:
    services = list(me["affected_services"])[:_MAX_SERVICES]
    matches: list[str] = []
    params: dict[str, Any] = {
        "id": me["incident_id"],
        "before": me["created_at"],
        "team": me["assigned_team"],
        "limit": _CANDIDATES,
    }
    if query_words:
        # websearch_to_tsquery never fails on its input ("or" joins the words).
        matches.append(
            "to_tsvector('simple', title || ' ' || description)"
            " @@ websearch_to_tsquery('simple', %(q)s)"
        )
        params["q"] = " or ".join(query_words)
    for i, service in enumerate(services):
        matches.append(f"affected_services @> %(s{i})s")
        params[f"s{i}"] = Jsonb([service])
    if not matches:
        return []
    return await fetch_all(
        conn,
        f"select {_COLUMNS} from incidents"
        f" where ({' or '.join(matches)})"
        " and incident_id <> %(id)s and created_at < %(before)s"
        " and assigned_team = %(team)s"
        " order by created_at desc limit %(limit)s",
        params,
    )


def rank(me: dict[str, Any], candidates: list[dict[str, Any]], limit: int) -> list[SimilarIncident]:
    """Order `candidates` by similarity to `me` (pure: tested without a database)."""
    my_words = words(f"{me['title']} {me['description']}")
    my_services = set(me["affected_services"])
    their_words = [words(f"{c['title']} {c['description']}") for c in candidates]
    df = Counter(w for ws in their_words for w in ws & my_words)
    n = len(candidates)

    def idf(word: str) -> float:
        return math.log((n + 1) / (df[word] + 1)) + 1.0

    my_norm = math.sqrt(sum(idf(w) ** 2 for w in my_words)) or 1.0
    out: list[SimilarIncident] = []
    for cand, ws in zip(candidates, their_words, strict=True):
        shared = ws & my_words
        norm = math.sqrt(sum(idf(w) ** 2 for w in ws)) or 1.0
        text = sum(idf(w) ** 2 for w in shared) / (my_norm * norm)
        theirs = set(cand["affected_services"])
        union = my_services | theirs
        common = my_services & theirs
        svc = len(common) / len(union) if union else 0.0
        score = TEXT_WEIGHT * text + SERVICE_WEIGHT * svc
        if not shared and not common:
            continue
        shared_services = sorted(common)
        shared_words = sorted(shared, key=lambda w: (-idf(w), w))[:8]
        out.append(
            SimilarIncident(
                incident_id=cand["incident_id"],
                title=cand["title"],
                severity=cand["severity"],
                status=cand["status"],
                assigned_team=cand["assigned_team"],
                affected_services=list(cand["affected_services"]),
                created_at=cand["created_at"],
                resolved_at=cand["resolved_at"],
                time_to_resolve_hours=_hours_to_resolve(cand["created_at"], cand["resolved_at"]),
                score=round(score, 4),
                reason=_reason(shared_services, shared_words),
                shared_services=shared_services,
                shared_words=shared_words,
            )
        )
    out.sort(key=lambda m: (-m.score, -m.created_at.timestamp()))
    return out[:limit]


async def similar(
    conn: AsyncConn, incident_id: str, *, limit: int = 5, caller_team: str | None = None
) -> list[SimilarIncident]:
    """The `limit` incidents of the same team opened before `incident_id` most like it.

    `caller_team`: the team a key is restricted to; another team's incident is not found.
    """
    me = await _incident(conn, incident_id, caller_team)
    mine = words(f"{me['title']} {me['description']}")
    query_words = sorted(mine)[:_MAX_QUERY_WORDS]
    return rank(me, await _candidates(conn, me, query_words), limit)
