drop view if exists incident_roles;
drop table if exists team_member_changes;
drop table if exists incident_checklist_items;
drop table if exists incident_role_assignments;
drop table if exists incident_role_types;
