alter table event_subscribers drop constraint if exists event_subscribers_team_name_key;
alter table event_subscribers add constraint event_subscribers_name_key unique (name);
