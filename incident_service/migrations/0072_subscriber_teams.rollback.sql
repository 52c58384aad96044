drop index if exists event_subscribers_team_idx;
alter table event_subscribers drop column if exists updated_on_behalf_of;
alter table event_subscribers drop column if exists team;
