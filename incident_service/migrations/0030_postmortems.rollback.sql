drop table if exists postmortems;
