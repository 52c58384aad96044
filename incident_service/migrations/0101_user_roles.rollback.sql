alter table users drop column if exists role;
