drop table if exists change_events;
