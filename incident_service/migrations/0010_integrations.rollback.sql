drop table if exists integration_cursors;
drop table if exists integration_syncs;
drop table if exists integration_links;
drop table if exists alerts;
drop table if exists alert_groups;
drop table if exists integrations;
