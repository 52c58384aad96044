drop table if exists user_changes;
