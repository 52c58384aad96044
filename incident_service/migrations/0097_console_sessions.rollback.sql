alter table users drop column if exists role;
alter table api_keys drop column if exists console_user_id;
drop table if exists console_sessions;
