-- Dropping the columns drops their indexes; nothing else refers to them.
drop index if exists incidents_search_severity_idx;
drop index if exists incidents_search_status_idx;
drop index if exists incidents_search_team_idx;
drop index if exists postmortems_generated_idx;
create index postmortems_generated_idx on postmortems (generated_at desc);
alter table postmortems drop column if exists search_pairs;
alter table alerts drop column if exists search_pairs;
alter table incident_timeline drop column if exists search_pairs;
alter table incidents drop column if exists search_pairs;
drop function if exists search_adjacent_pairs(tsvector);
