-- Full-text search over what people and tools wrote about incidents
-- (GET /api/v1/search): one generated tsvector per searchable table, kept by PostgreSQL
-- on every write, each with a GIN index. English stemming. Weights (A > B > C > D): an
-- incident's title, then what people wrote (descriptions, notes) and alert summaries,
-- then post-mortems (which repeat the record), then an alert's source. Inputs are cut to a length
-- whose tsvector stays far below PostgreSQL's 1 MB limit, so no write can fail on it.
-- Adding a stored column rewrites each table once, under its lock. Each column keeps
-- ten times the default statistics: the planner then knows a rare word (a host, an error
-- code) from a common one, and reads the GIN index for the first, the newest rows for
-- the second; with the default, rare words were taken for common ones (docs/performance.md).
-- depends: 0001_incidents 0010_integrations 0030_postmortems

alter table incidents add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', left(description, 100000)), 'B')
) stored;
create index incidents_search_idx on incidents using gin (search_tsv);

-- Notes, whether on their own or sent with a status change.
alter table incident_timeline add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', left(coalesce(note, ''), 100000)), 'B')
) stored;
create index incident_timeline_search_idx on incident_timeline using gin (search_tsv);

-- The summary and source only: the payload is the vendor's, verbatim, and may carry
-- routing keys.
alter table alerts add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', left(summary, 100000)), 'B')
    || setweight(to_tsvector('english', coalesce(source, '')), 'D')
) stored;
create index alerts_search_idx on alerts using gin (search_tsv);

-- The rendered post-mortem: the record, the contributing factors and the action items;
-- the newest first when a word is common.
alter table postmortems add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', left(markdown, 100000)), 'C')
) stored;
create index postmortems_search_idx on postmortems using gin (search_tsv);
create index postmortems_generated_idx on postmortems (generated_at desc);

alter table incidents alter column search_tsv set statistics 1000;
alter table incident_timeline alter column search_tsv set statistics 1000;
alter table alerts alter column search_tsv set statistics 1000;
alter table postmortems alter column search_tsv set statistics 1000;
