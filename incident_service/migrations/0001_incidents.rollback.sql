drop table if exists idempotency_keys;
drop table if exists outbox;
drop table if exists automated_responses;
drop table if exists incident_timeline;
drop table if exists incident_day_counters;
drop table if exists incidents;
