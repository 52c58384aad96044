"""The pairs a query requires (search.phrases) against PostgreSQL's own matching: a row
that matches a query holds every pair required of it, and when the pairs are said to be
exact, holding them is matching."""

from __future__ import annotations

import random

import psycopg
import pytest

from incident_service.search.phrases import Pairs, required_pairs


@pytest.mark.parametrize(
    ("tsquery", "expected"),
    [
        ("'disk' <-> 'full'", Pairs(("disk full",), exact=True)),
        ("'a' <-> 'b' & 'c' <-> 'd'", Pairs(("a b", "c d"), exact=True)),
        ("'a' <-> 'b' <-> 'c'", Pairs(("a b", "b c"))),
        ("'a' <-> 'b' & 'c'", Pairs(("a b",))),
        ("'a' <-> 'b' <2> 'c' <-> 'd'", Pairs(("a b", "c d"))),  # a stop word between b, c
        ("'disk' <2> 'full'", Pairs()),
        ("'a' <-> 'b' | 'c'", Pairs()),
        ("'a' <-> 'b' | 'a' <-> 'b' & 'c'", Pairs(("a b",))),
        ("!( 'a' <-> 'b' ) & 'c'", Pairs()),
        ("'a' <-> ( 'b' | 'c' )", Pairs()),
        ("'it''s' <-> 'a\\\\b'", Pairs(("it's a\\b",), exact=True)),
        ("'a':* <-> 'b'", Pairs()),  # not a form websearch_to_tsquery writes: no pairs
        ("'a' <->", Pairs()),
        ("", Pairs()),
        ("'" + "x" * 150 + "' <-> 'y'", Pairs(("x" * 100 + " y",))),  # cut: not exact
    ],
)
def test_required_pairs(tsquery: str, expected: Pairs) -> None:
    assert required_pairs(tsquery) == expected


def test_pairs_agree_with_postgresql_matching(database_url: str) -> None:
    """Random texts and web-search queries over a small vocabulary (stop words, hyphens
    and quotes included): no match lacks a required pair, and exact pairs are matching."""
    rng = random.Random(16)
    words = ["disk", "full", "the", "of", "deploy", "roll-back", "it's", "api", "api", "db"]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(300)]
    queries = []
    for _ in range(150):
        phrase = " ".join(rng.choices(words, k=rng.randint(2, 4)))
        extra = rng.choice(["", " db", " -api", " or full", ' "disk full"'])
        queries.append(f'"{phrase}"{extra}')
    with psycopg.connect(database_url) as conn:
        tsqueries = [
            conn.execute("select websearch_to_tsquery('english', %s)::text", (q,)).fetchone()[0]
            for q in queries
        ]
        needed = [required_pairs(t) for t in tsqueries]
        assert sum(bool(n.pairs) for n in needed) > 60
        assert sum(n.exact for n in needed) > 5
        rows = conn.execute(
            "select q.n, t.n, to_tsvector('english', t.text) @@ q.query::tsquery,"
            " search_adjacent_pairs(to_tsvector('english', t.text)) @> q.pairs::text[]"
            " from unnest(%s::text[], %s::text[]) with ordinality as q(query, pairs, n)"
            " cross join unnest(%s::text[]) with ordinality as t(text, n)",
            (tsqueries, ["{" + ",".join(f'"{p}"' for p in n.pairs) + "}" for n in needed], texts),
        ).fetchall()
    matched = 0
    for query_n, text_n, matches, holds in rows:
        n = needed[query_n - 1]
        if matches:
            matched += 1
            assert holds, (queries[query_n - 1], texts[text_n - 1])
        if n.exact:
            assert matches == holds, (queries[query_n - 1], texts[text_n - 1])
    assert matched > 200
