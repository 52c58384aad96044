drop table if exists model_version_events;
drop table if exists model_versions;
