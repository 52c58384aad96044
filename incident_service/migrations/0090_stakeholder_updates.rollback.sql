drop table if exists update_reminders;
drop table if exists update_cadences;
drop table if exists incident_updates;
