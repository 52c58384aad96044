drop table if exists config_deletions;
