"""SQL for full-text search over incidents, timeline entries, alerts and post-mortems.
No business rules here.

Each kind's matches come from its GIN index (`0085_search.sql`); of each kind only the
`window` most recent matches are ranked, so that a word found in a large part of the
record costs a bounded amount of work (docs/performance.md, "Search"). A word rarer than
that is ranked over every match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from incident_service.db import AsyncConn, compact_sql

# Marks ts_headline puts around each match. Control characters a snippet cannot contain:
# they are removed from the text first, so every one in the answer is a marker.
START, STOP = "\x02", "\x03"
_HEADLINE_OPTIONS = (
    f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=10, ShortWord=2,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)
# Rank normalisation: divided by 1 + log(length) (a long post-mortem does not win by
# repeating a word), then scaled into 0..1.
_NORMALIZATION = 1 | 32

# Written out in each place rather than computed once: a constant the planner folds, so
# it estimates each word's frequency from the statistics (rare: the GIN index; common:
# the newest rows first) instead of assuming one frequency for every query.
_Q = "websearch_to_tsquery('english', %(q)s)"

# Per kind: its rows joined to their incident, the text to show, when it was written,
# the index order of recency, and a tie-break key that sorts as text.
_SOURCES = {
    "incident": """
        select 'incident'::text as kind, i.incident_id, null::bigint as item_id,
               null::text as entry_kind, i.created_at as at, i.incident_id::text as key,
               i.search_tsv as tsv, i.title || E'\\n' || i.description as body
        from incidents i
        where {match} {filters} {at_filters}
        order by i.created_at desc, i.id desc limit %(window)s""",
    "timeline_entry": """
        select 'timeline_entry'::text, t.incident_id, t.id, t.kind::text, t.occurred_at,
               lpad(t.id::text, 20, '0'), t.search_tsv, t.note
        from incident_timeline t join incidents i on i.incident_id = t.incident_id
        where t.search_tsv @@ {query} {filters} {at_filters}
        order by t.id desc limit %(window)s""",
    "alert": """
        select 'alert'::text, a.incident_id, a.id, null::text, a.received_at,
               lpad(a.id::text, 20, '0'), a.search_tsv,
               a.summary || coalesce(E'\\n' || a.source, '')
        from alerts a join incidents i on i.incident_id = a.incident_id
        where a.search_tsv @@ {query} {filters} {at_filters}
        order by a.id desc limit %(window)s""",
    "postmortem": """
        select 'postmortem'::text, p.incident_id, null::bigint, null::text, p.generated_at,
               p.incident_id::text, p.search_tsv, p.markdown
        from postmortems p join incidents i on i.incident_id = p.incident_id
        where p.search_tsv @@ {query} {filters} {at_filters}
        order by p.generated_at desc limit %(window)s""",
}
# The same matches found from the other end, for a word the planner expects in many rows
# of the kind while the incident filters (team, status, severity) keep few incidents: the
# filtered incidents newest first, each one's rows of the kind that match. The planner,
# which takes the word and the filter for independent, would otherwise walk the kind's
# rows newest first and read far more of them before `window` pass the filter (docs/
# performance.md, "Search"). `ts_match_vq` is the function of `@@`, which no index serves:
# the match is checked on the few rows of each incident, never through the GIN index.
_BY_INCIDENT = {
    "timeline_entry": (
        "incident_timeline",
        "t",
        """
        select 'timeline_entry'::text, t.incident_id, t.id, t.kind::text, t.occurred_at,
               lpad(t.id::text, 20, '0'), t.search_tsv, t.note""",
    ),
    "alert": (
        "alerts",
        "a",
        """
        select 'alert'::text, a.incident_id, a.id, null::text, a.received_at,
               lpad(a.id::text, 20, '0'), a.search_tsv,
               a.summary || coalesce(E'\\n' || a.source, '')""",
    ),
    "postmortem": (
        "postmortems",
        "p",
        """
        select 'postmortem'::text, p.incident_id, null::bigint, null::text, p.generated_at,
               p.incident_id::text, p.search_tsv, p.markdown""",
    ),
}


def _by_incident(kind: str, filters: str, at_filters: str) -> str:
    table, alias, columns = _BY_INCIDENT[kind]
    # Ordered by the incident, so the planner walks the filter's index (team, status or
    # severity, then newest first) and stops after `window` rows.
    return f"""{columns}
        from incidents i
        cross join lateral (
            select * from {table} {alias}
            where {alias}.incident_id = i.incident_id
              and ts_match_vq({alias}.search_tsv, {_Q}) {at_filters}
        ) as {alias}
        where true {filters}
        order by i.created_at desc, i.id desc
        limit %(window)s"""


_AT = {
    "incident": "i.created_at",
    "timeline_entry": "t.occurred_at",
    "alert": "a.received_at",
    "postmortem": "p.generated_at",
}


def _statement(filters: dict[str, Any], after: bool, by_incident: frozenset[str]) -> str:
    clauses = "".join(
        f" and i.{column} = %({column})s"
        for column in ("assigned_team", "status", "severity")
        if filters.get(column) is not None
    )
    branches = []
    for kind, source in _SOURCES.items():
        at_filters = ""
        if filters.get("from") is not None:
            at_filters += f" and {_AT[kind]} >= %(from)s"
        if filters.get("to") is not None:
            at_filters += f" and {_AT[kind]} < %(to)s"
        if kind in by_incident and kind in _BY_INCIDENT:
            branches.append(f"({_by_incident(kind, clauses, at_filters)})")
        elif kind == "incident":
            # From the filter's own index (team, status or severity, newest first), the
            # match checked on each row rather than through the GIN index: see _BY_INCIDENT.
            match = (
                f"ts_match_vq(i.search_tsv, {_Q})"
                if kind in by_incident
                else f"i.search_tsv @@ {_Q}"
            )
            branches.append(
                f"({source.format(match=match, filters=clauses, at_filters=at_filters)})"
            )
        else:
            branches.append(f"({source.format(filters=clauses, at_filters=at_filters, query=_Q)})")
    keyset = (
        "where (rank, at, kind, key) < (%(after_rank)s::real, %(after_at)s, %(after_kind)s,"
        " %(after_key)s)"
        if after
        else ""
    )
    # The rank is computed only for the candidates, and the snippet only for the page.
    return compact_sql(f"""
with candidates as (
    {" union all ".join(branches)}
), ranked as (
    select kind, incident_id, item_id, entry_kind, at, key, body,
           ts_rank_cd(tsv, {_Q}, {_NORMALIZATION}) as rank
    from candidates
), page as (
    select * from ranked {keyset}
    order by rank desc, at desc, kind desc, key desc
    limit %(limit)s
)
select p.kind, p.incident_id, p.item_id, p.entry_kind, p.at, p.key, p.rank,
       i.title as incident_title, i.status, i.severity, i.assigned_team,
       ts_headline('english', translate(p.body, %(markers)s, '  '), {_Q},
                   %(options)s) as headline
from page p join incidents i on i.incident_id = p.incident_id
order by p.rank desc, p.at desc, p.kind desc, p.key desc
""")


def query(
    *,
    q: str,
    filters: dict[str, Any],
    after: tuple[float, datetime, str, str] | None,
    limit: int,
    window: int,
    by_incident: frozenset[str] = frozenset(),
) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters (the benchmark EXPLAINs them as they run).
    `by_incident`: the kinds whose matches are found from the filtered incidents."""
    params: dict[str, Any] = dict(
        filters,
        q=q,
        limit=limit,
        window=window,
        markers=START + STOP,
        options=_HEADLINE_OPTIONS,
    )
    if after is not None:
        params["after_rank"], params["after_at"], params["after_kind"], params["after_key"] = after
    return _statement(filters, after is not None, by_incident), params


async def search(
    conn: AsyncConn,
    *,
    q: str,
    filters: dict[str, Any],
    after: tuple[float, datetime, str, str] | None,
    limit: int,
    window: int,
    by_incident: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Best first; `after` is the (rank, at, kind, key) of the last hit already seen."""
    statement, params = query(
        q=q, filters=filters, after=after, limit=limit, window=window, by_incident=by_incident
    )
    # Never prepared: a generic plan would be the same for a rare and a common word.
    cur = await conn.execute(statement, params, prepare=False)
    return await cur.fetchall()


async def has_lexemes(conn: AsyncConn, q: str) -> bool:
    """False when `q` has nothing to search for: stop words or punctuation only."""
    cur = await conn.execute(
        "select numnode(websearch_to_tsquery('english', %s)) > 0 as searchable", (q,)
    )
    row = await cur.fetchone()
    return bool(row and row["searchable"])


_TABLES = {
    "incidents": "incident",
    "incident_timeline": "timeline_entry",
    "alerts": "alert",
    "postmortems": "postmortem",
}
ESTIMATE = "explain (format json) select " + ", ".join(
    f"(select count(*) from {table} where search_tsv @@ {_Q})" for table in _TABLES
)


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _scans(child)


def matches_in_plan(document: Any) -> dict[str, float]:
    """Per kind, the rows the plan of `ESTIMATE` expects to match."""
    if isinstance(document, str):
        document = json.loads(document)
    found: dict[str, float] = {}
    for node in _scans(document[0]["Plan"]):
        kind = _TABLES.get(node.get("Relation Name", ""))
        if kind is not None:
            found[kind] = float(node.get("Plan Rows", 0))
    return found


async def estimated_matches(conn: AsyncConn, q: str) -> dict[str, float]:
    """Per kind, how many rows the planner expects `q` to match (its statistics of each
    tsvector column; nothing is read but the plan)."""
    cur = await conn.execute(ESTIMATE, {"q": q}, prepare=False)
    row = await cur.fetchone()
    return matches_in_plan(next(iter(row.values())) if row else [{"Plan": {}}])
