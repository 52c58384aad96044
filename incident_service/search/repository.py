"""SQL for full-text search over incidents, timeline entries, alerts and post-mortems.
No business rules here.

Each kind's matches come from its GIN index (`0085_search.sql`), a phrase's from the
index of its adjacent lexeme pairs (`0093_search_pairs.sql`); of each kind only the
`window` most recent matches are ranked, so that a word found in a large part of the
record costs a bounded amount of work (docs/performance.md, "Search"). A word rarer than
that is ranked over every match.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from incident_service.db import AsyncConn, compact_sql, fetch_one

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


@dataclass(frozen=True)
class Plan:
    """How the statement finds each kind's matches; the service chooses.

    `pairs`: the adjacent lexeme pairs every match holds (phrases.required_pairs), read
    through their GIN index; `exact`: holding them is matching (no exact check).
    `by_incident`: the kinds whose matches are found from the filtered incidents.
    `postmortems_by_filter`: post-mortems in `by_incident` are walked newest first against
    the hashed filtered incidents (_POSTMORTEMS_BY_FILTER).
    `read_whole`: the kinds whose every row holding the pairs is read through the pairs'
    index, the newest kept (_ORDER), rather than walked newest first.
    `newest`: kind -> span, the kinds whose rows holding the pairs are read through the
    pairs' index among the kind's newest `span` rows first (_NEWEST), and among the older
    ones only when those hold fewer than `window`.
    """

    pairs: tuple[str, ...] = ()
    exact: bool = False
    by_incident: frozenset[str] = frozenset()
    postmortems_by_filter: bool = False
    read_whole: frozenset[str] = frozenset()
    newest: Mapping[str, int] = field(default_factory=dict)


# Per kind: its rows joined to their incident (`{join}`, only under incident filters: every
# row has its incident, so without filters the join would only cost a lookup per
# candidate), the text to show, when it was written, the index order of recency, and a
# tie-break key that sorts as text.
_SOURCES = {
    "incident": """
        select 'incident'::text as kind, i.incident_id, null::bigint as item_id,
               null::text as entry_kind, i.created_at as at, i.incident_id::text as key,
               i.search_tsv as tsv, i.title || E'\\n' || i.description as body
        from incidents i
        where {match} {filters} {at_filters}
        order by {order} limit %(window)s""",
    "timeline_entry": """
        select 'timeline_entry'::text, t.incident_id, t.id, t.kind::text, t.occurred_at,
               lpad(t.id::text, 20, '0'), t.search_tsv, t.note
        from incident_timeline t {join}
        where {match} {filters} {at_filters}
        order by {order} limit %(window)s""",
    "alert": """
        select 'alert'::text, a.incident_id, a.id, null::text, a.received_at,
               lpad(a.id::text, 20, '0'), a.search_tsv,
               a.summary || coalesce(E'\\n' || a.source, '')
        from alerts a {join}
        where {match} {filters} {at_filters}
        order by {order} limit %(window)s""",
    "postmortem": """
        select 'postmortem'::text, p.incident_id, null::bigint, null::text, p.generated_at,
               p.incident_id::text, p.search_tsv, p.markdown
        from postmortems p {join}
        where {match} {filters} {at_filters}
        order by {order} limit %(window)s""",
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


# Post-mortems of the filtered incidents, for a common word: a post-mortem exists only for
# some incidents (written at resolution), so walking the filtered incidents for theirs
# reads every one of them when the filter keeps few resolved ones (an active status: 149
# ms). Instead the post-mortems are walked newest first in an index that carries their
# incident (`postmortems_generated_idx`), each checked against the filtered incidents,
# hashed once from an index that carries the incident id and the filters (migration
# 0093); a post-mortem is read, and its match checked, only when its incident passes.
# `(... in (...)) is true` keeps the `in` a hashed subplan checked on the walk: written
# as a plain `in`, the planner makes it a join (every post-mortem hashed, or each
# incident looked up by id). The hash is built in memory, so the service takes this walk
# only when the planner expects few enough filtered incidents (service.HASHED_INCIDENTS).
_POSTMORTEMS_BY_FILTER = """
        select 'postmortem'::text, p.incident_id, null::bigint, null::text, p.generated_at,
               p.incident_id::text, m.search_tsv, m.markdown
        from postmortems p
        cross join lateral (
            select m.search_tsv, m.markdown from postmortems m
            where m.incident_id = p.incident_id and ts_match_vq(m.search_tsv, {query})
            limit 1
        ) as m
        where (p.incident_id in (
            select i.incident_id from incidents i where true {filters}
        )) is true {at_filters}
        order by p.generated_at desc
        limit %(window)s"""

# Each kind's order of recency: as its index gives it, and as a value no index gives
# (the same order), for the matches of uncommon pairs: every one of them is read through
# the pairs' index and the newest kept. Walked newest first instead, the planner, which
# prices the index's scattered pages as disk reads, reads far more rows than there are
# matches (41,000 alerts for a pair in 1 of 200: 35 ms; the index: 2 ms).
_ORDER = {
    "incident": ("i.created_at desc, i.id desc", "i.created_at + '0 s' desc, i.id desc"),
    "timeline_entry": ("t.id desc", "t.id + 0 desc"),
    "alert": ("a.id desc", "a.id + 0 desc"),
    "postmortem": ("p.generated_at desc", "p.generated_at + '0 s' desc"),
}

# A phrase's matches among the kind's newest rows, then the older ones only if needed: the
# pairs' index ANDed with the recency index's range (a BitmapAnd) reads just the matches
# of the newest `span` rows, where reading all of a common pair's matches reads thousands
# of rows scattered over the table, and walking newest first checks every row on the way
# (docs/performance.md, "Search"). The range's bound: for a kind keyed by a sequence, its
# highest id less the span (gaps only narrow the range); for one ordered by a time, the
# time of its (span + 1)-th newest row, read from the recency index alone. The older part
# runs only when the newest held fewer than `window` (a LIMIT of 0 reads nothing), so the
# candidates are exactly the newest `window` matches, as with the other readings.
_NEWEST = {
    "incident": (
        "i.created_at",
        "coalesce((select created_at from incidents order by created_at desc"
        " offset %(span_incident)s limit 1), '-infinity')",
    ),
    "timeline_entry": ("t.id", "(select max(id) from incident_timeline) - %(span_timeline_entry)s"),
    "alert": ("a.id", "(select max(id) from alerts) - %(span_alert)s"),
    "postmortem": (
        "p.generated_at",
        "coalesce((select generated_at from postmortems order by generated_at desc"
        " offset %(span_postmortem)s limit 1), '-infinity')",
    ),
}
_COLUMNS = "kind, incident_id, item_id, entry_kind, at, key, tsv, body"


def _source(kind: str, *, match: str, clauses: str, at_filters: str, order: str) -> str:
    """The kind's statement (_SOURCES) for `match`, incident filter `clauses` and order."""
    alias = _ALIAS[kind]
    join = (
        f"join incidents i on i.incident_id = {alias}.incident_id"
        if clauses and kind != "incident"
        else ""
    )
    return _SOURCES[kind].format(
        match=match, join=join, filters=clauses, at_filters=at_filters, order=order
    )


def _newest_first(kind: str, plan: Plan, clauses: str, at_filters: str) -> tuple[str, str]:
    """The kind's CTE of its matches among the newest rows, and its branch of candidates."""
    column, bound = _NEWEST[kind]
    name = f"newest_{kind}"

    def part(side: str, limit: str) -> str:
        return _source(
            kind,
            match=f"{_match(kind, plan)} and {column} {side} {bound}",
            clauses=clauses,
            at_filters=at_filters,
            order=_ORDER[kind][1],
        ).replace("limit %(window)s", f"limit {limit}")

    cte = f"{name}({_COLUMNS}) as ({part('>', '%(window)s')})"
    older = part("<=", f"(select %(window)s - count(*) from {name})")
    return cte, f"(select * from {name}) union all ({older})"


_AT = {
    "incident": "i.created_at",
    "timeline_entry": "t.occurred_at",
    "alert": "a.received_at",
    "postmortem": "p.generated_at",
}
_ALIAS = {"incident": "i", "timeline_entry": "t", "alert": "a", "postmortem": "p"}


def _match(kind: str, plan: Plan) -> str:
    """A kind's match condition. With a phrase's pairs, the pairs' GIN index finds the
    candidates, and the exact query (when needed) is `ts_match_vq`, which no index serves
    (through the tsvector's index it would also read each word's whole posting list)."""
    alias = _ALIAS[kind]
    if plan.pairs:
        pairs = f"{alias}.search_pairs @> %(pairs)s::text[]"
        return pairs if plan.exact else f"{pairs} and ts_match_vq({alias}.search_tsv, {_Q})"
    if kind in plan.by_incident:
        # From the filter's own index, newest first: see _BY_INCIDENT.
        return f"ts_match_vq({alias}.search_tsv, {_Q})"
    return f"{alias}.search_tsv @@ {_Q}"


def _statement(filters: dict[str, Any], after: bool, plan: Plan) -> str:
    clauses = "".join(
        f" and i.{column} = %({column})s"
        for column in ("assigned_team", "status", "severity")
        if filters.get(column) is not None
    )
    branches = []
    ctes = []
    for kind in _SOURCES:
        at_filters = ""
        if filters.get("from") is not None:
            at_filters += f" and {_AT[kind]} >= %(from)s"
        if filters.get("to") is not None:
            at_filters += f" and {_AT[kind]} < %(to)s"
        if kind in plan.by_incident and kind == "postmortem" and plan.postmortems_by_filter:
            branch = _POSTMORTEMS_BY_FILTER.format(query=_Q, filters=clauses, at_filters=at_filters)
        elif kind in plan.by_incident and kind in _BY_INCIDENT:
            branch = _by_incident(kind, clauses, at_filters)
        elif kind in plan.newest and plan.pairs:
            cte, branch = _newest_first(kind, plan, clauses, at_filters)
            ctes.append(cte)
        elif kind == "postmortem" and plan.pairs and kind not in plan.read_whole:
            # Common pairs: walked newest first, checked on each post-mortem's tsvector
            # (4 us a row) rather than on its pairs (13-22 us: a longer value, compared
            # element by element); the walk stops after `window` matches.
            match = f"ts_match_vq(p.search_tsv, {_Q})"
            branch = _source(
                kind, match=match, clauses=clauses, at_filters=at_filters, order=_ORDER[kind][0]
            )
        else:
            # Read whole: ordered by the second form, which no index serves (see _ORDER).
            whole = kind in plan.read_whole and bool(plan.pairs)
            branch = _source(
                kind,
                match=_match(kind, plan),
                clauses=clauses,
                at_filters=at_filters,
                order=_ORDER[kind][1 if whole else 0],
            )
        branches.append(f"({branch})")
    keyset = (
        "where (rank, at, kind, key) < (%(after_rank)s::real, %(after_at)s, %(after_kind)s,"
        " %(after_key)s)"
        if after
        else ""
    )
    # The rank is computed only for the candidates, and the snippet only for the page.
    newest = "".join(f"{cte}, " for cte in ctes)
    return compact_sql(f"""
with {newest}candidates as (
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
    plan: Plan = Plan(),
) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters (the benchmark EXPLAINs them as they run)."""
    params: dict[str, Any] = dict(
        filters,
        q=q,
        limit=limit,
        window=window,
        markers=START + STOP,
        options=_HEADLINE_OPTIONS,
        pairs=list(plan.pairs),
        **{f"span_{kind}": span for kind, span in plan.newest.items()},
    )
    if after is not None:
        params["after_rank"], params["after_at"], params["after_kind"], params["after_key"] = after
    return _statement(filters, after is not None, plan), params


@asynccontextmanager
async def planner_settings(conn: AsyncConn) -> AsyncIterator[None]:
    """The planner settings a phrase's or a filtered search's statement and estimate are
    planned with, local to a transaction (a savepoint in the request's, which ends with
    it). No table read whole: every branch reads an index, and the planner, which prices
    an index's scattered pages as disk reads, would read all post-mortems (each one's
    pairs out of line: 270 ms) rather than the pairs' index for a pair in 1 of 25 (5 ms).
    No parallel workers: starting them cost more than the few thousand rows a branch
    reads (a phrase's median 51 -> 43 ms, on the shared machine), and a parallel scan's
    row estimate is per worker, which the estimate would misread."""
    async with conn.transaction():
        await conn.execute(
            "select set_config('enable_seqscan', 'off', true),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )
        yield


async def search(
    conn: AsyncConn,
    *,
    q: str,
    filters: dict[str, Any],
    after: tuple[float, datetime, str, str] | None,
    limit: int,
    window: int,
    plan: Plan = Plan(),
) -> list[dict[str, Any]]:
    """Best first; `after` is the (rank, at, kind, key) of the last hit already seen."""
    statement, params = query(
        q=q, filters=filters, after=after, limit=limit, window=window, plan=plan
    )
    # Never prepared: a generic plan would be the same for a rare and a common word.
    if plan == Plan():  # words, no phrase or filter: the plans of 0085, which need neither
        cur = await conn.execute(statement, params, prepare=False)
        return await cur.fetchall()
    async with planner_settings(conn):
        cur = await conn.execute(statement, params, prepare=False)
        return await cur.fetchall()


async def parse(conn: AsyncConn, q: str) -> tuple[str, bool] | None:
    """`q` as PostgreSQL reads it (tsquery's text form), and False when it has nothing to
    search for: stop words or punctuation only. None: too deeply nested for PostgreSQL's
    parser (hundreds of operators in a row)."""
    try:
        # A savepoint: the request's transaction goes on after a query that failed here.
        async with conn.transaction():
            row = await fetch_one(
                conn, f"select {_Q}::text as tsquery, numnode({_Q}) > 0 as searchable", {"q": q}
            )
    except psycopg.errors.InternalError_ as exc:
        # "tsquery stack too small" has no SQLSTATE of its own (XX000).
        if "stack too small" in str(exc):
            return None
        raise
    return (row["tsquery"], bool(row["searchable"])) if row else ("", False)


_TABLES = {
    "incidents": "incident",
    "incident_timeline": "timeline_entry",
    "alerts": "alert",
    "postmortems": "postmortem",
}
# The filtered incidents' own count goes by this alias (the plan names scans by alias),
# and each table's own size (for a phrase) by this prefix to its name.
FILTERED = "filtered"
ROWS = "rows"


def estimate(filters: dict[str, Any], pairs: bool) -> str:
    """EXPLAIN of each kind's matches and, with incident filters, of the incidents kept."""
    # A phrase's pairs alone: with its words too, the planner, which takes them for
    # independent, would count the phrase's words twice.
    match = "search_pairs @> %(pairs)s::text[]" if pairs else f"search_tsv @@ {_Q}"
    counts = [f"(select count(*) from {table} where {match})" for table in _TABLES]
    if pairs:
        counts += [f"(select count(*) from {table} as {ROWS}_{table})" for table in _TABLES]
    clauses = " and ".join(
        f"{FILTERED}.{column} = %({column})s"
        for column in ("assigned_team", "status", "severity")
        if filters.get(column) is not None
    )
    if clauses:
        counts.append(f"(select count(*) from incidents {FILTERED} where {clauses})")
    return "explain (format json) select " + ", ".join(counts)


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _scans(child)


def matches_in_plan(document: Any) -> dict[str, float]:
    """Per kind, the rows the plan of `estimate` expects to match; under FILTERED, the
    incidents it expects the filters to keep; under `rows <kind>`, the kind's rows."""
    if isinstance(document, str):
        document = json.loads(document)
    found: dict[str, float] = {}
    for node in _scans(document[0]["Plan"]):
        if node.get("Alias") == FILTERED:
            found[FILTERED] = float(node.get("Plan Rows", 0))
            continue
        if node.get("Alias", "").startswith(f"{ROWS}_"):
            found[f"{ROWS} {_TABLES[node['Relation Name']]}"] = float(node.get("Plan Rows", 0))
            continue
        kind = _TABLES.get(node.get("Relation Name", ""))
        if kind is not None:
            found[kind] = float(node.get("Plan Rows", 0))
    return found


async def estimated_matches(
    conn: AsyncConn, q: str, filters: dict[str, Any], pairs: tuple[str, ...] = ()
) -> dict[str, float]:
    """Per kind, how many rows the planner expects `q` to match (its statistics of each
    tsvector and pairs column; nothing is read but the plan), and with incident filters
    how many incidents it expects them to keep (under FILTERED)."""
    params = dict(filters, q=q, pairs=list(pairs))
    async with planner_settings(conn):
        cur = await conn.execute(estimate(filters, bool(pairs)), params, prepare=False)
        row = await cur.fetchone()
    return matches_in_plan(next(iter(row.values())) if row else [{"Plan": {}}])
