alter table incidents drop column if exists assignee_id;
alter table api_keys drop column if exists user_id;
drop table if exists team_members;
drop table if exists teams;
drop table if exists users;
