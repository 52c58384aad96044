"""GET /api/v1/search, black-box over HTTP against the real migrations.

Every test searches for words of its own (a random token), so the shared database's other
incidents cannot match."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import make_api_key, new_incident

URL = "/api/v1/search"


def token() -> str:
    return f"w{secrets.token_hex(5)}"


async def open_incident(client, team: str, **fields: Any) -> str:
    created = await client.post("/api/v1/incidents", json=new_incident(team, **fields))
    assert created.status_code == 201, created.text
    return str(created.json()["incident_id"])


async def search(client, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get(URL, params=params)
    assert answer.status_code == 200, answer.text
    hits: list[dict[str, Any]] = answer.json()
    return hits


async def test_each_kind_is_found_with_its_incident(client, team: str) -> None:
    word = token()
    incident_id = await open_incident(client, team, title=f"Checkout down {word}")
    noted = await client.put(
        f"/api/v1/incidents/{incident_id}/status",
        json={"status": "INVESTIGATING", "note": f"rolled back the {word} deploy"},
    )
    assert noted.status_code == 200, noted.text
    integration = await client.post(
        "/api/v1/integrations", json={"kind": "events-v2", "team": team}
    )
    alert = await client.post(
        "/v2/enqueue",
        json={
            "routing_key": integration.json()["integration_key"],
            "event_action": "trigger",
            "dedup_key": word,
            "payload": {"summary": f"queue depth {word}", "source": "mq-1", "severity": "error"},
        },
    )
    assert alert.status_code == 202, alert.text
    resolved = await client.put(
        f"/api/v1/incidents/{incident_id}/status", json={"status": "RESOLVED"}
    )
    assert resolved.status_code == 200, resolved.text
    assert (await client.get(f"/api/v1/incidents/{incident_id}/postmortem")).status_code == 200

    hits = await search(client, q=word, limit=100)
    kinds = {(h["kind"], h["incident_id"]) for h in hits}
    assert ("incident", incident_id) in kinds
    assert ("timeline_entry", incident_id) in kinds
    assert ("postmortem", incident_id) in kinds
    assert any(h["kind"] == "alert" for h in hits), hits
    note = next(
        h for h in hits if h["kind"] == "timeline_entry" and h["incident_id"] == incident_id
    )
    assert note["entry_kind"] == "status_changed" and isinstance(note["item_id"], int)
    assert note["assigned_team"] == team and note["incident_title"] == f"Checkout down {word}"
    alert_hit = next(h for h in hits if h["kind"] == "alert")
    assert alert_hit["assigned_team"] == team and isinstance(alert_hit["item_id"], int)
    assert all(0 < h["rank"] <= 1 for h in hits)


async def test_stemming_and_web_search_syntax(client, team: str) -> None:
    word = token()
    deployed = await open_incident(client, team, title=f"{word} deployed twice, disk full")
    other = await open_incident(client, team, title=f"{word} full disk on the replica")
    stemmed = {h["incident_id"] for h in await search(client, q=f"{word} deploying")}
    assert stemmed == {deployed}
    phrase = {h["incident_id"] for h in await search(client, q=f'{word} "disk full"')}
    assert phrase == {deployed}
    excluded = {h["incident_id"] for h in await search(client, q=f"{word} -deploy")}
    assert excluded == {other}
    either = {h["incident_id"] for h in await search(client, q=f"{word} replica or twice")}
    assert either == {deployed, other}


async def test_ranking_puts_titles_first_then_density(client, team: str) -> None:
    word = token()
    in_title = await open_incident(client, team, title=f"{word} outage", description="nothing")
    in_description = await open_incident(
        client, team, title="Some outage", description=f"the {word} cluster failed"
    )
    repeated = await open_incident(
        client, team, title="Other outage", description=f"{word} {word} {word} everywhere"
    )
    hits = [h for h in await search(client, q=word) if h["kind"] == "incident"]
    order = [h["incident_id"] for h in hits]
    assert order == [in_title, repeated, in_description], hits
    ranks = [h["rank"] for h in hits]
    assert ranks == sorted(ranks, reverse=True)


async def test_snippets_are_plain_text_with_offsets_and_escaped_html(client, team: str) -> None:
    word = token()
    # ts_headline leaves out what its parser reads as tags; comparisons, ampersands,
    # quotes and stray markers of ours are kept as text.
    hostile = (
        f"<script>alert(1)</script> if a < b && \"c\" > 'd' \x02{word}\x03 <img src=x onerror=1>"
    )
    await open_incident(client, team, title="Markup in the description", description=hostile)
    [hit] = await search(client, q=word, team=team)
    snippet = hit["snippet"]
    assert "\x02" not in snippet and "\x03" not in snippet
    assert "a < b && \"c\" > 'd'" in snippet
    assert [snippet[h["start"] : h["end"]] for h in hit["highlights"]] == [word]
    html = hit["snippet_html"]
    assert "<script" not in html and "<img" not in html
    assert "a &lt; b &amp;&amp; &quot;c&quot; &gt; &#x27;d&#x27;" in html
    assert f"<mark>{word}</mark>" in html
    assert html.count("<") == 2 and html.count(">") == 2


@pytest.mark.parametrize("unicode_prefix", ["Ünïcödé 🚒 ", ""])
async def test_highlight_offsets_count_code_points(client, team: str, unicode_prefix: str) -> None:
    word = token()
    await open_incident(client, team, title=f"{unicode_prefix}{word} and {word}")
    [hit] = await search(client, q=word, team=team)
    spans = [hit["snippet"][h["start"] : h["end"]] for h in hit["highlights"]]
    assert spans == [word, word]


async def test_filters(client, team: str) -> None:
    word = token()
    other_team = f"{team}-other"
    sev1 = await open_incident(client, team, title=f"{word} a", severity="SEV1_CRITICAL")
    sev3 = await open_incident(client, team, title=f"{word} b", severity="SEV3_MEDIUM")
    elsewhere = await open_incident(client, other_team, title=f"{word} c")
    moved = await client.put(f"/api/v1/incidents/{sev3}/status", json={"status": "ACKNOWLEDGED"})
    assert moved.status_code == 200

    async def ids(**params: Any) -> set[str]:
        return {h["incident_id"] for h in await search(client, q=word, **params)}

    assert await ids() == {sev1, sev3, elsewhere}
    assert await ids(team=team) == {sev1, sev3}
    assert await ids(team=other_team) == {elsewhere}
    assert await ids(severity="SEV1_CRITICAL") == {sev1}
    assert await ids(status="ACKNOWLEDGED") == {sev3}
    assert await ids(status="OPEN", team=team) == {sev1}
    assert await ids(**{"from": "2000-01-01", "to": "2199-01-01"}) == {sev1, sev3, elsewhere}
    assert await ids(**{"from": "2199-01-01"}) == set()
    assert await ids(to="2000-01-01T00:00:00Z") == set()


async def test_from_and_to_bound_when_the_text_was_written(
    client, team: str, database_url: str
) -> None:
    import psycopg

    word = token()
    old = await open_incident(client, team, title=f"{word} old")
    new = await open_incident(client, team, title=f"{word} new")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "update incidents set created_at = '2021-03-01T12:00:00Z' where incident_id = %s",
            (old,),
        )

    async def ids(**params: Any) -> set[str]:
        return {h["incident_id"] for h in await search(client, q=word, **params)}

    assert await ids(**{"from": "2021-03-01T12:00:00Z", "to": "2021-03-01T12:00:01Z"}) == {old}
    assert await ids(**{"from": "2021-03-01T12:00:01Z"}) == {new}
    assert await ids(to="2021-03-01T12:00:00Z") == set()
    assert await ids(to="2021-03-02") == {old}


async def test_paging_follows_the_link_header_without_repeats(client, team: str) -> None:
    word = token()
    created = {await open_incident(client, team, title=f"{word} {i}") for i in range(5)}
    whole = await search(client, q=word, limit=100)
    assert {h["incident_id"] for h in whole} == created

    seen: list[dict[str, Any]] = []
    url: str | None = f"{URL}?q={word}&limit=2"
    pages = 0
    while url is not None:
        answer = await client.get(url)
        assert answer.status_code == 200, answer.text
        seen.extend(answer.json())
        pages += 1
        link = answer.headers.get("link")
        url = link[1 : link.index(">")] if link else None
        assert link is None or 'rel="next"' in link
    assert pages == 3
    assert [(h["kind"], h["incident_id"]) for h in seen] == [
        (h["kind"], h["incident_id"]) for h in whole
    ]


async def test_a_team_key_sees_its_own_team_only(client, team: str, database_url: str) -> None:
    word = token()
    other_team = f"{team}-other"
    mine = await open_incident(client, team, title=f"{word} mine")
    theirs = await open_incident(client, other_team, title=f"{word} theirs")
    noted = await client.put(
        f"/api/v1/incidents/{theirs}/status",
        json={"status": "INVESTIGATING", "note": f"{word} secret note"},
    )
    assert noted.status_code == 200
    key = make_api_key(database_url, name="team-search", scopes=["incidents:read"], team=team)
    headers = {"Authorization": f"Bearer {key}"}

    answer = await client.get(URL, params={"q": word}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert {h["incident_id"] for h in answer.json()} == {mine}
    assert theirs not in answer.text and other_team not in answer.text
    asked = await client.get(URL, params={"q": word, "team": other_team}, headers=headers)
    assert asked.status_code == 200 and asked.json() == []

    admin = {h["incident_id"] for h in await search(client, q=word)}
    assert admin == {mine, theirs}


async def test_a_key_without_the_read_scope_is_refused(client, database_url: str) -> None:
    key = make_api_key(database_url, name="no-read", scopes=["config:write"])
    answer = await client.get(URL, params={"q": "x"}, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 403
    anonymous = await client.get(URL, params={"q": "x"}, headers={"Authorization": ""})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20%E2%80%8B", "q"),
        ("q=" + "a" * 10_000, "q"),
        ("q=%FF%FEdisk", "q"),
        ("q=disk&team=%ED%A0%80", "team"),
        ("q=the%20and%20of", "q"),
        ("q=%21%21%21", "q"),
        ("q=disk&from=yesterday", "from"),
        ("q=disk&to=2024-13-45", "to"),
        ("q=disk&from=0001-01-01T00:00:00%2B14:00", "from"),
        ("q=disk&from=1700000000", "from"),
        ("q=disk&from=2024-02-01&to=2024-01-01", "from"),
        ("q=disk&from=2024-01-01&to=2024-01-01", "from"),
        ("q=disk&status=LOST", "status"),
        ("q=disk&severity=SEV0", "severity"),
        ("q=disk&limit=0", "limit"),
        ("q=disk&limit=101", "limit"),
        ("q=disk&cursor=not-a-cursor", "cursor"),
        ("q=disk&cursor=" + quote("WyJuYW4iLCJ4IiwieSIsInoiXQ"), "cursor"),
        ("q=disk&q=disk", "q"),
        ("q=" + "-" * 900 + "a", "q"),  # deeper than PostgreSQL's tsquery parser goes
    ],
)
async def test_bad_input_is_a_400_naming_the_field(client, query: str, field: str) -> None:
    answer = await client.get(f"{URL}?{query}")
    assert answer.status_code == 400, answer.text
    body = answer.json()
    keys = {e.get("key") for e in body.get("extra", [])}
    # The framework names a missing parameter in its message rather than in `extra`.
    assert field in keys or f"parameter '{field}'" in body["detail"], body


async def test_both_plans_find_the_same_hits(client, team: str, database_url: str) -> None:
    """Searching each kind from the filtered incidents (the plan for a common word under a
    filter), post-mortems walked against the hashed filtered incidents or not, finds
    exactly what the index plan finds, filters and time bounds included."""
    import psycopg
    from psycopg.rows import dict_row

    from incident_service.search import phrases, repository, service

    word = token()
    ids = [await open_incident(client, team, title=f"{word} {n}") for n in range(3)]
    elsewhere = await open_incident(client, f"{team}-other", title=f"{word} elsewhere")
    for incident_id in [*ids[:2], elsewhere]:  # `elsewhere`: matches the team filter drops
        for status in ("INVESTIGATING", "RESOLVED"):
            moved = await client.put(
                f"/api/v1/incidents/{incident_id}/status",
                json={"status": status, "note": f"{word} step {status}"},
            )
            assert moved.status_code == 200, moved.text
        written = await client.get(f"/api/v1/incidents/{incident_id}/postmortem")
        assert written.status_code == 200, written.text
    every = frozenset({"incident", "timeline_entry", "alert", "postmortem"})
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        for filters in (
            {"assigned_team": team},
            {"assigned_team": team, "status": "RESOLVED"},
            {"status": "RESOLVED", "from": "2000-01-01T00:00:00Z", "to": "2199-01-01T00:00:00Z"},
            {"severity": "SEV1_CRITICAL", "to": "2000-01-01T00:00:00Z"},
        ):
            full = {"assigned_team": None, "status": None, "severity": None, "from": None}
            full |= {"to": None} | filters

            async def hits(plan: repository.Plan, full: dict[str, Any] = full) -> list[Any]:
                rows = await repository.search(
                    conn, q=word, filters=full, after=None, limit=100, window=200, plan=plan
                )
                return sorted((r["kind"], r["incident_id"], r["item_id"]) for r in rows)

            by_index = await hits(repository.Plan())
            if "to" not in filters or filters["to"] > "2100":
                assert ("postmortem", ids[0], None) in by_index, filters
            if "assigned_team" in filters:
                assert all(incident_id in ids for _, incident_id, _ in by_index)
            walked = repository.Plan(by_incident=every)
            assert await hits(walked) == by_index, filters
            hashed = repository.Plan(by_incident=every, postmortems_by_filter=True)
            assert await hits(hashed) == by_index, filters

        # The choice: a word in every incident of a big table is walked from the incidents;
        # a word the statistics do not know is read through the index; post-mortems are
        # walked against the filtered incidents when the planner expects few enough.
        plan = service.choose(
            {"timeline_entry": 1e6, "alert": 10.0, repository.FILTERED: 5e3},
            200,
            filters={"assigned_team": team},
        )
        assert plan.by_incident == {"timeline_entry"} and plan.postmortems_by_filter
        many = {"postmortem": 1e6, repository.FILTERED: 1e7}
        plan = service.choose(many, 200, filters={"status": "CLOSED"})
        assert plan.by_incident == {"postmortem"} and not plan.postmortems_by_filter
        assert not service.choose(many, 200, filters={}).by_incident
        # A phrase's matches are read whole through the pairs' index when rare; among the
        # kind's newest rows when neither rare nor common; walked newest first when common.
        phrase = phrases.Pairs(("a b",), exact=True)
        sizes = {"rows timeline_entry": 1e6, "rows alert": 2e5, "rows incident": 1e5}
        sizes |= {"rows postmortem": 3e4}
        mixed = {"timeline_entry": 3e3, "alert": 1e5, "incident": 10.0, "postmortem": 5.0}
        plan = service.choose(mixed | sizes, 200, phrase)
        assert plan.read_whole == {"incident", "postmortem"}, plan
        # 3,000 of a million: the matches among the newest 1.5 * 200 * 1e6 / 3e3 entries.
        assert plan.newest == {"timeline_entry": 100_000}, plan
        assert not service.choose(mixed | sizes, 200).read_whole
        # Under an incident filter a phrase is never read by recency range.
        filtered = service.choose(mixed | sizes, 200, phrase, filters={"status": "OPEN"})
        assert not filtered.newest
        expected = await repository.estimated_matches(conn, word, {"assigned_team": team})
        assert set(expected) == {"incident", "timeline_entry", "alert", "postmortem", "filtered"}
        tsquery, _ = await repository.parse(conn, word)
        plan = await service.plan_search(conn, word, tsquery, {"assigned_team": team}, 200)
        assert not plan.by_incident and not plan.pairs


async def _post_alert(client, team: str, summary: str) -> None:
    integration = await client.post(
        "/api/v1/integrations", json={"kind": "events-v2", "team": team}
    )
    assert integration.status_code == 201, integration.text
    alert = await client.post(
        "/v2/enqueue",
        json={
            "routing_key": integration.json()["integration_key"],
            "event_action": "trigger",
            "dedup_key": token(),
            "payload": {"summary": summary, "source": "mq-1", "severity": "error"},
        },
    )
    assert alert.status_code == 202, alert.text


async def test_a_phrase_matches_its_words_adjacent_and_in_order_in_every_kind(
    client, team: str, database_url: str
) -> None:
    import psycopg
    from psycopg.rows import dict_row

    from incident_service.search import phrases, repository

    a, b, c = token(), token(), token()
    titled = await open_incident(client, team, title=f"{a} {b} in the title")
    noted = await open_incident(client, team, title="A quiet title")
    moved = await client.put(
        f"/api/v1/incidents/{noted}/status",
        json={"status": "INVESTIGATING", "note": f"saw {a} {b} again"},
    )
    assert moved.status_code == 200, moved.text
    await _post_alert(client, team, f"{a} {b} queue depth")
    resolved = await client.put(f"/api/v1/incidents/{noted}/status", json={"status": "RESOLVED"})
    assert resolved.status_code == 200, resolved.text
    assert (await client.get(f"/api/v1/incidents/{noted}/postmortem")).status_code == 200
    apart = await open_incident(client, team, title=f"{a} then {b}")  # both words, not adjacent
    swapped = await open_incident(client, team, title=f"{b} {a}")  # adjacent, the wrong order
    three = await open_incident(client, team, title=f"{a} {b} {c}")
    pairs_only = await open_incident(client, team, title=f"{a} {b} and {b} {c}")  # no triple

    hits = await search(client, q=f'"{a} {b}"', limit=100)
    found = {(h["kind"], h["incident_id"]) for h in hits}
    assert {("incident", titled), ("timeline_entry", noted), ("postmortem", noted)} <= found
    assert any(h["kind"] == "alert" for h in hits), hits
    ids = {h["incident_id"] for h in hits if h["kind"] == "incident"}
    # (The alert opened an incident of its own, titled with its summary.)
    assert {titled, three, pairs_only} <= ids and not {apart, swapped, noted} & ids
    either_order = {h["incident_id"] for h in await search(client, q=f"{a} {b}", limit=100)}
    assert {apart, swapped} <= either_order
    assert {h["incident_id"] for h in await search(client, q=f'"{a} {b} {c}"')} == {three}
    assert {h["incident_id"] for h in await search(client, q=f'"{b} {a}" -{c}')} == {swapped}

    # Every plan of a phrase (the pairs alone when they are the phrase, the pairs and the
    # exact check, every match read through the pairs' index, no pairs) finds the same.
    every = frozenset({"incident", "timeline_entry", "alert", "postmortem"})
    filters = {"assigned_team": None, "status": None, "severity": None, "from": None}
    filters["to"] = None
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        for q in (f'"{a} {b}"', f'"{a} {b} {c}"', f'"{a} {b}" {c}', f'"{b} {a}"'):
            tsquery, _ = await repository.parse(conn, q)
            needed = phrases.required_pairs(tsquery)
            assert needed.pairs, q
            plans = [
                repository.Plan(),
                repository.Plan(pairs=needed.pairs, exact=needed.exact),
                repository.Plan(pairs=needed.pairs),
                repository.Plan(pairs=needed.pairs, exact=needed.exact, read_whole=every),
                # Among the newest rows first: a span of one row (the older part reads the
                # rest) and a span past every row (the older part reads nothing).
                repository.Plan(
                    pairs=needed.pairs, exact=needed.exact, newest=dict.fromkeys(every, 1)
                ),
                repository.Plan(pairs=needed.pairs, newest=dict.fromkeys(every, 10**9)),
            ]
            seen = []
            for plan in plans:
                rows = await repository.search(
                    conn, q=q, filters=filters, after=None, limit=100, window=200, plan=plan
                )
                seen.append(sorted((r["kind"], r["incident_id"], r["item_id"]) for r in rows))
            assert seen[0] and all(s == seen[0] for s in seen), (q, seen)


async def test_a_phrase_stays_in_the_callers_team(client, team: str, database_url: str) -> None:
    a, b = token(), token()
    other_team = f"{team}-other"
    mine = await open_incident(client, team, title=f"{a} {b} mine")
    theirs = await open_incident(client, other_team, title=f"{a} {b} theirs")
    await _post_alert(client, other_team, f"{a} {b} in their alert")
    key = make_api_key(database_url, name="team-phrase", scopes=["incidents:read"], team=team)
    headers = {"Authorization": f"Bearer {key}"}
    for q in (f'"{a} {b}"', f'"{a} {b}" mine'):
        answer = await client.get(URL, params={"q": q}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert {h["incident_id"] for h in answer.json()} == {mine}
        assert theirs not in answer.text and other_team not in answer.text
    admin = {h["incident_id"] for h in await search(client, q=f'"{a} {b}"')}
    assert {mine, theirs} <= admin
