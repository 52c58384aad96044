drop table if exists api_keys;
