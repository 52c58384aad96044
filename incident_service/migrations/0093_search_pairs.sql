-- Phrases and filtered searches through indexes (GET /api/v1/search; figures in
-- docs/performance.md, "Search").
--
-- Phrases: a GIN index on a tsvector keeps no positions, so `"disk full"` was found as
-- `disk & full` and each candidate re-checked row by row: for common words, most of a
-- table. Each searchable table now also keeps the pairs of adjacent lexemes of its
-- search_tsv ('disk full' for `disk` at position n and `full` at n + 1) in a text array
-- with a GIN index: a phrase's pairs are an index lookup, and the exact phrase is checked
-- on those rows only. The pairs are computed from the same expression as search_tsv (the
-- same positions, the same cap of 256 positions per lexeme), so a row that matches a
-- phrase holds every pair of it. A lexeme is cut to 100 characters in a pair (a GIN key
-- must stay under ~2.7 kB); cutting only adds candidates, which the exact check removes.
-- Adding a stored column rewrites each table once, under its lock (1,000,000 timeline
-- entries: about a minute). Statistics at ten times the default, as for search_tsv: the
-- planner then tells a rare pair (read through the index) from a common one (newest
-- rows first).
--
-- Post-mortems under an incident filter (team, status, severity): post-mortems are
-- walked newest first in an index that carries their incident, checked against the
-- filtered incidents read from an index that carries the incident id and the other
-- filters (hashed once per search), and only those of a filtered incident are read.
-- depends: 0085_search

create function search_adjacent_pairs(v tsvector) returns text[]
language sql immutable strict parallel safe as $$
    select coalesce(array_agg(distinct left(a.lexeme, 100) || ' ' || left(b.lexeme, 100)), '{}')
    from (select lexeme, unnest(positions) as pos from unnest(v)) as a
    join (select lexeme, unnest(positions) as pos from unnest(v)) as b on b.pos = a.pos + 1
$$;

alter table incidents add column search_pairs text[] generated always as (
    search_adjacent_pairs(
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', left(description, 100000)), 'B'))
) stored;
create index incidents_pairs_idx on incidents using gin (search_pairs);

alter table incident_timeline add column search_pairs text[] generated always as (
    search_adjacent_pairs(
        setweight(to_tsvector('english', left(coalesce(note, ''), 100000)), 'B'))
) stored;
create index incident_timeline_pairs_idx on incident_timeline using gin (search_pairs);

alter table alerts add column search_pairs text[] generated always as (
    search_adjacent_pairs(
        setweight(to_tsvector('english', left(summary, 100000)), 'B')
        || setweight(to_tsvector('english', coalesce(source, '')), 'D'))
) stored;
create index alerts_pairs_idx on alerts using gin (search_pairs);

alter table postmortems add column search_pairs text[] generated always as (
    search_adjacent_pairs(setweight(to_tsvector('english', left(markdown, 100000)), 'C'))
) stored;
create index postmortems_pairs_idx on postmortems using gin (search_pairs);

alter table incidents alter column search_pairs set statistics 1000;
alter table incident_timeline alter column search_pairs set statistics 1000;
alter table alerts alter column search_pairs set statistics 1000;
alter table postmortems alter column search_pairs set statistics 1000;

-- Newest first with the incident, so the walk reads no post-mortem it does not keep.
drop index postmortems_generated_idx;
create index postmortems_generated_idx on postmortems (generated_at desc) include (incident_id);

create index incidents_search_team_idx on incidents (assigned_team)
    include (incident_id, status, severity);
create index incidents_search_status_idx on incidents (status)
    include (incident_id, assigned_team, severity);
create index incidents_search_severity_idx on incidents (severity)
    include (incident_id, assigned_team, status);
