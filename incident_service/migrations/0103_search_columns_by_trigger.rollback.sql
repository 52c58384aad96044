-- Back to generated columns: dropping a column drops its indexes, so both are made again
-- as 0085 and 0093 made them (this rewrites the four tables).
drop trigger if exists incidents_search_text on incidents;
drop trigger if exists incident_timeline_search_text on incident_timeline;
drop trigger if exists alerts_search_text on alerts;
drop trigger if exists postmortems_search_text on postmortems;
drop function if exists incidents_search_text();
drop function if exists incident_timeline_search_text();
drop function if exists alerts_search_text();
drop function if exists postmortems_search_text();

alter table incidents drop column search_tsv, drop column search_pairs;
alter table incidents add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', left(description, 100000)), 'B')
) stored;
alter table incidents add column search_pairs text[] generated always as (
    search_adjacent_pairs(
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', left(description, 100000)), 'B'))
) stored;
create index incidents_search_idx on incidents using gin (search_tsv);
create index incidents_pairs_idx on incidents using gin (search_pairs);

alter table incident_timeline drop column search_tsv, drop column search_pairs;
alter table incident_timeline add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', left(coalesce(note, ''), 100000)), 'B')
) stored;
alter table incident_timeline add column search_pairs text[] generated always as (
    search_adjacent_pairs(
        setweight(to_tsvector('english', left(coalesce(note, ''), 100000)), 'B'))
) stored;
create index incident_timeline_search_idx on incident_timeline using gin (search_tsv);
create index incident_timeline_pairs_idx on incident_timeline using gin (search_pairs);

alter table alerts drop column search_tsv, drop column search_pairs;
alter table alerts add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', left(summary, 100000)), 'B')
    || setweight(to_tsvector('english', coalesce(source, '')), 'D')
) stored;
alter table alerts add column search_pairs text[] generated always as (
    search_adjacent_pairs(
        setweight(to_tsvector('english', left(summary, 100000)), 'B')
        || setweight(to_tsvector('english', coalesce(source, '')), 'D'))
) stored;
create index alerts_search_idx on alerts using gin (search_tsv);
create index alerts_pairs_idx on alerts using gin (search_pairs);

alter table postmortems drop column search_tsv, drop column search_pairs;
alter table postmortems add column search_tsv tsvector generated always as (
    setweight(to_tsvector('english', left(markdown, 100000)), 'C')
) stored;
alter table postmortems add column search_pairs text[] generated always as (
    search_adjacent_pairs(setweight(to_tsvector('english', left(markdown, 100000)), 'C'))
) stored;
create index postmortems_search_idx on postmortems using gin (search_tsv);
create index postmortems_pairs_idx on postmortems using gin (search_pairs);

alter table incidents alter column search_tsv set statistics 1000;
alter table incident_timeline alter column search_tsv set statistics 1000;
alter table alerts alter column search_tsv set statistics 1000;
alter table postmortems alter column search_tsv set statistics 1000;
alter table incidents alter column search_pairs set statistics 1000;
alter table incident_timeline alter column search_pairs set statistics 1000;
alter table alerts alter column search_pairs set statistics 1000;
alter table postmortems alter column search_pairs set statistics 1000;
