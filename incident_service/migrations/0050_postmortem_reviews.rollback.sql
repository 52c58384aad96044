drop table if exists postmortem_reviews;
