drop trigger if exists outbox_notify on outbox;
drop function if exists outbox_notify();
drop table if exists event_subscribers;
