drop table if exists idempotency_keys;
drop table if exists outbox;
drop table if exists automated_responses;
drop table if exists incident_timeline;
drop function if exists next_incident_number(date);
drop table if exists incidents;
