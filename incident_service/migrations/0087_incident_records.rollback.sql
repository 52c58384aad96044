drop table if exists incident_links;
drop table if exists incident_note_edits;
drop table if exists incident_notes;
drop trigger if exists incidents_version on incidents;
drop function if exists incidents_bump_version();
alter table incidents drop column if exists version;
