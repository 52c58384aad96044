-- Dropping the columns drops their indexes; nothing else refers to them.
drop index if exists postmortems_generated_idx;
alter table postmortems drop column if exists search_tsv;
alter table alerts drop column if exists search_tsv;
alter table incident_timeline drop column if exists search_tsv;
alter table incidents drop column if exists search_tsv;
